## Post-estimation references (partial effects, elasticities, predictions) for the
## fractional logit/probit on the 401(k) data, with analytic delta-method SEs.
## Run from the repository root:   Rscript tests/reference/margins.R
## Reads tests/reference/data/k401.csv, writes tests/reference/margins.json.
suppressMessages(library(sandwich))
here <- NULL
local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  d <- if (length(f) == 1L) dirname(normalizePath(f)) else file.path(getwd(), "tests", "reference")
  source(file.path(d, "common.R"))
  here <<- d
})

dat <- read.csv(file.path(here, "data", "k401.csv"))
dat$mrate2 <- dat$mrate^2                       # the design column I(mrate ** 2)
n <- nrow(dat)

## numerical Jacobian (central differences), used ONLY as a check of the analytic one
num_jac <- function(f, b) {
  f0 <- f(b)
  J <- matrix(0, length(f0), length(b))
  for (j in seq_along(b)) {
    h <- 1e-5 * max(abs(b[j]), 1e-2)
    bp <- b; bm <- b; bp[j] <- b[j] + h; bm[j] <- b[j] - h
    J[, j] <- (f(bp) - f(bm)) / (2 * h)
  }
  J
}

se_all <- function(J, covs) {
  J <- rbind(J)
  lapply(covs, function(V) {
    s <- sqrt(diag(J %*% V %*% t(J)))
    if (length(s) == 1L) s else arr(s)
  })
}

## ------------------------------------------------------------------------------
## (A) model with the quadratic in mrate
## ------------------------------------------------------------------------------
fml_r <- prate01 ~ mrate + mrate2 + ltotemp + age + agesq + sole
term_names <- c("Intercept", "mrate", "I(mrate ** 2)", "ltotemp", "age", "agesq", "sole")
formula_patsy <- "prate01 ~ mrate + I(mrate ** 2) + ltotemp + age + agesq + sole"
iM <- 2; iM2 <- 3; iL <- 4; iS <- 7

means_raw <- c(mrate = mean(dat$mrate), ltotemp = mean(dat$ltotemp), age = mean(dat$age),
               agesq = mean(dat$agesq), sole = mean(dat$sole))
## at-means design row: squared term of mrate rebuilt from the mean; agesq is a
## plain column, so it is mean(agesq) (NOT mean(age)^2); sole at its mean (a share)
xbar <- c(1, means_raw[["mrate"]], means_raw[["mrate"]]^2, means_raw[["ltotemp"]],
          means_raw[["age"]], means_raw[["agesq"]], means_raw[["sole"]])
newdata <- data.frame(mrate = c(0.25, 0.75, 1.5), ltotemp = 6, age = 10, agesq = 100, sole = 1)
Xnew <- cbind(1, newdata$mrate, newdata$mrate^2, newdata$ltotemp, newdata$age, newdata$agesq, newdata$sole)

make_quantities <- function(X, link) {
  lf <- link_funs(link)
  m <- X[, iM]
  X1 <- X; X1[, iS] <- 1
  X0 <- X; X0[, iS] <- 0
  q <- list()
  ## APE of raw mrate: mean g(x b) (b_m + 2 b_m2 mrate)
  q$ape_mrate <- list(
    value = function(b) { e <- drop(X %*% b); mean(lf$g(e) * (b[iM] + 2 * b[iM2] * m)) },
    jac = function(b) {
      e <- drop(X %*% b); d <- b[iM] + 2 * b[iM2] * m
      J <- colMeans(X * (lf$gp(e) * d))
      J[iM] <- J[iM] + mean(lf$g(e)); J[iM2] <- J[iM2] + mean(lf$g(e) * 2 * m); J })
  q$ape_ltotemp <- list(
    value = function(b) { e <- drop(X %*% b); mean(lf$g(e) * b[iL]) },
    jac = function(b) {
      e <- drop(X %*% b); J <- colMeans(X * (lf$gp(e) * b[iL])); J[iL] <- J[iL] + mean(lf$g(e)); J })
  ## discrete change of sole: mean G(x b | sole = 1) - G(x b | sole = 0)
  q$ape_sole <- list(
    value = function(b) mean(lf$G(drop(X1 %*% b)) - lf$G(drop(X0 %*% b))),
    jac = function(b) colMeans(X1 * lf$g(drop(X1 %*% b))) - colMeans(X0 * lf$g(drop(X0 %*% b))))
  ## partial effect at the means
  q$atmean_mrate <- list(
    value = function(b) { e <- sum(xbar * b); lf$g(e) * (b[iM] + 2 * b[iM2] * xbar[iM]) },
    jac = function(b) {
      e <- sum(xbar * b); d <- b[iM] + 2 * b[iM2] * xbar[iM]
      J <- lf$gp(e) * d * xbar; J[iM] <- J[iM] + lf$g(e); J[iM2] <- J[iM2] + lf$g(e) * 2 * xbar[iM]; J })
  ## elasticity of E[y|x] w.r.t. mrate: averaged over the sample ...
  q$eyex_mrate <- list(
    value = function(b) { e <- drop(X %*% b); mean(lf$g(e) * (b[iM] + 2 * b[iM2] * m) * m / lf$G(e)) },
    jac = function(b) {
      e <- drop(X %*% b); G <- lf$G(e); g <- lf$g(e); d <- b[iM] + 2 * b[iM2] * m
      J <- colMeans(X * (m * d * (lf$gp(e) * G - g^2) / G^2))
      J[iM] <- J[iM] + mean(g * m / G); J[iM2] <- J[iM2] + mean(g * 2 * m^2 / G); J })
  ## ... and at the means
  q$eyex_mrate_atmean <- list(
    value = function(b) { e <- sum(xbar * b); mb <- xbar[iM]
      lf$g(e) * (b[iM] + 2 * b[iM2] * mb) * mb / lf$G(e) },
    jac = function(b) {
      e <- sum(xbar * b); mb <- xbar[iM]; G <- lf$G(e); g <- lf$g(e); d <- b[iM] + 2 * b[iM2] * mb
      J <- xbar * (mb * d * (lf$gp(e) * G - g^2) / G^2)
      J[iM] <- J[iM] + g * mb / G; J[iM2] <- J[iM2] + g * 2 * mb^2 / G; J })
  ## predictions at new rows
  q$pred <- list(
    value = function(b) lf$G(drop(Xnew %*% b)),
    jac = function(b) Xnew * lf$g(drop(Xnew %*% b)))
  q
}

quant_descr <- list(
  ape_mrate = "mean_i g(x_i b) * (b_mrate + 2 b_{I(mrate ** 2)} mrate_i)  (APE of raw mrate on E[y|x] = G(x b))",
  ape_ltotemp = "mean_i g(x_i b) * b_ltotemp",
  ape_sole = "mean_i [G(x_i b | sole = 1) - G(x_i b | sole = 0)]  (discrete change)",
  atmean_mrate = "g(xbar b) * (b_mrate + 2 b_{I(mrate ** 2)} mean(mrate)); xbar = at_means$design_row",
  eyex_mrate = "mean_i [ g(x_i b) (b_mrate + 2 b_{I(mrate ** 2)} mrate_i) mrate_i / G(x_i b) ]",
  eyex_mrate_atmean = "g(xbar b) (b_mrate + 2 b_{I(mrate ** 2)} mbar) mbar / G(xbar b), mbar = mean(mrate)",
  pred = "G(x_new b) for the rows in newdata")

cases <- list(); max_jac_check <- 0
for (link in c("logit", "probit")) {
  F <- fit_qmle(fml_r, dat, rep(1, n), link)
  fit <- F$fit; X <- F$X; b <- coef(fit)
  P <- qll_pieces(X, F$y, b, F$pw, link)
  k <- ncol(X)
  ## covariances
  V_e <- summary(fit)$cov.unscaled; V_o <- solve(P$I_obs)
  hc0_sw <- vcovHC(fit, type = "HC0")
  cl_sw <- vcovCL(fit, cluster = ~age, type = "HC1")
  G <- length(unique(dat$age)); cfac <- G / (G - 1) * (n - 1) / (n - k)
  M0 <- crossprod(P$S); M1 <- clmeat(P$S, dat$age)
  covs <- list(
    HC0_expected = unname(hc0_sw),
    HC0_observed = V_o %*% M0 %*% V_o,
    cluster1_expected = unname(cl_sw),
    cluster1_observed = cfac * V_o %*% M1 %*% V_o)
  assert_close(V_e %*% M0 %*% V_e, covs$HC0_expected, 1e-10, "HC0 hand vs sandwich")
  assert_close(cfac * V_e %*% M1 %*% V_e, covs$cluster1_expected, 1e-10, "CL1 hand vs sandwich")
  if (link == "logit") assert_close(covs$HC0_observed, covs$HC0_expected, 1e-10, "logit obs==exp")

  qs <- make_quantities(X, link)
  out_q <- list(); jac_checks <- list()
  for (nm in names(qs)) {
    est <- qs[[nm]]$value(b); J <- rbind(qs[[nm]]$jac(b)); Jn <- num_jac(qs[[nm]]$value, b)
    jc <- relmax(J, Jn); jac_checks[[nm]] <- jc; max_jac_check <- max(max_jac_check, jc)
    if (jc > 1e-6) stop("analytic vs numerical Jacobian: ", nm, " ", link, " ", jc)
    out_q[[nm]] <- list(
      description = quant_descr[[nm]],
      estimate = if (length(est) == 1L) unname(est) else arr(unname(est)),
      std_err = se_all(J, covs),
      jacobian = if (nrow(J) == 1L) arr(unname(J[1, ])) else unname(J))
  }
  cat(sprintf("%-6s ape_mrate=%.6f (HC0 se %.6f)  ape_sole=%.6f  pred=%s  max jac check %.1e\n", link,
              out_q$ape_mrate$estimate, out_q$ape_mrate$std_err$HC0_expected, out_q$ape_sole$estimate,
              paste(sprintf("%.4f", out_q$pred$estimate), collapse = ","), max(unlist(jac_checks))))
  cases[[length(cases) + 1L]] <- list(
    dataset = "k401", formula = formula_patsy, link = link, weights = NULL,
    cluster = "age", n = n, k = k, names = arr(term_names),
    params = setNames(as.list(unname(b)), term_names),
    cov = lapply(covs, unname),
    at_means = list(
      raw_means = as.list(means_raw),
      design_row = arr(unname(xbar)),
      note = paste("mrate, ltotemp, age, sole at their sample means (sole as a share);",
                   "I(mrate ** 2) = mean(mrate)^2 (rebuilt from the mean, since it is a transform of mrate);",
                   "agesq is a plain column, so mean(agesq) (NOT mean(age)^2).")),
    newdata = list(columns = arr(c("mrate", "ltotemp", "age", "agesq", "sole")),
                   rows = unname(as.matrix(newdata)),
                   design = unname(Xnew)),
    quantities = out_q,
    meta = c(F$info, list(
      max_rel_score = max(abs(P$score) / colSums(abs(P$S))),
      n_clusters_age = G, cluster1_factor = cfac,
      jacobian_check_max_rel_diff_vs_central_differences = jac_checks)))
}

## ------------------------------------------------------------------------------
## (B) plain model, logit, HC0: APEs of every regressor treated as continuous
##     (same definition as statsmodels' get_margeff(at="overall", method="dydx"))
## ------------------------------------------------------------------------------
fml_p <- prate01 ~ mrate + ltotemp + age + agesq + sole
names_p <- c("Intercept", "mrate", "ltotemp", "age", "agesq", "sole")
F <- fit_qmle(fml_p, dat, rep(1, n), "logit")
fit <- F$fit; X <- F$X; b <- coef(fit); k <- ncol(X)
V <- unname(vcovHC(fit, type = "HC0"))
lf <- link_funs("logit")
plain_q <- list()
for (j in 2:k) {
  val <- function(b) mean(lf$g(drop(X %*% b)) * b[j])
  jac <- function(b) { e <- drop(X %*% b); J <- colMeans(X * (lf$gp(e) * b[j])); J[j] <- J[j] + mean(lf$g(e)); J }
  J <- rbind(jac(b)); jc <- relmax(J, num_jac(val, b)); max_jac_check <- max(max_jac_check, jc)
  if (jc > 1e-6) stop("plain jac check")
  plain_q[[names_p[j]]] <- list(estimate = val(b), std_err = sqrt(drop(J %*% V %*% t(J))),
                                jacobian = arr(unname(J[1, ])))
}
plain_case <- list(
  dataset = "k401", formula = "prate01 ~ mrate + ltotemp + age + agesq + sole", link = "logit",
  weights = NULL, cov_type = "HC0_expected", names = arr(names_p),
  params = setNames(as.list(unname(b)), names_p), cov = list(HC0_expected = V),
  ape_dydx_overall = plain_q,
  note = paste("dy/dx averaged over the sample for every regressor treated as continuous",
               "(sole too; agesq as its own variable) = statsmodels get_margeff(at='overall',",
               "method='dydx', dummy=False); compare with margins_statsmodels.json."))

out <- list(
  description = paste("Partial effects, elasticities and predictions with analytic delta-method SEs",
                      "for the fractional logit/probit (Bernoulli QMLE) on k401; see README.md."),
  generated_by = "Rscript tests/reference/margins.R",
  R_version = R.version.string, sandwich_version = as.character(packageVersion("sandwich")),
  matrix_layout = "row-major list of rows; order = case$names",
  std_err_definition = "sqrt(J V J') with J the analytic Jacobian of the quantity w.r.t. params, V = cov[name]",
  cov_definitions = list(
    HC0_expected = "sandwich::vcovHC(fit, type = 'HC0') (expected-information bread)",
    HC0_observed = "same meat, bread = inverse observed Hessian of the Bernoulli quasi-log-likelihood",
    cluster1_expected = "sandwich::vcovCL(fit, cluster = ~age, type = 'HC1') = G/(G-1) (n-1)/(n-k) A S_age A",
    cluster1_observed = "same with the observed-Hessian bread",
    note = "logit: observed == expected"),
  max_jacobian_check_rel_diff = max_jac_check,
  cases = cases,
  plain_logit_HC0 = plain_case)
write_json_file(out, file.path(here, "margins.json"))
cat("wrote", file.path(here, "margins.json"), " (max analytic-vs-numeric Jacobian rel diff", max_jac_check, ")\n")
