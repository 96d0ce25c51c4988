## Economics references: demand curve, willingness to pay and the profit-maximising price,
## with analytic delta-method / implicit-function-theorem SEs, for the fractional logit and
## probit (Bernoulli QMLE) on the simulated purchase study data/demand.csv.
## Run from the repository root:   Rscript tests/reference/economics.R
## Reads tests/reference/data/demand.csv, writes tests/reference/economics.json.
suppressMessages(library(sandwich))
here <- NULL
local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  d <- if (length(f) == 1L) dirname(normalizePath(f)) else file.path(getwd(), "tests", "reference")
  source(file.path(d, "common.R"))
  here <<- d
})

dat <- read.csv(file.path(here, "data", "demand.csv"), stringsAsFactors = FALSE)
n <- nrow(dat)
## design columns in patsy's order: Intercept, persona[T.retiree], persona[T.student], <price terms>, organic
dat$i_ret <- as.numeric(dat$persona == "retiree")
dat$i_stu <- as.numeric(dat$persona == "student")
dat$lp <- log(dat$price)
dat$p2 <- dat$price^2

num_jac <- function(f, b) {
  f0 <- f(b); J <- matrix(0, length(f0), length(b))
  for (j in seq_along(b)) {
    h <- 1e-5 * max(abs(b[j]), 1e-2); bp <- b; bm <- b; bp[j] <- b[j] + h; bm[j] <- b[j] - h
    J[, j] <- (f(bp) - f(bm)) / (2 * h)
  }
  J
}

## price terms: f(p), f'(p), f''(p) (vectors over the price columns)
price_specs <- list(
  log = list(fml = belief ~ i_ret + i_stu + lp + organic, cols = 4L,
             patsy = "belief ~ np.log(price) + organic + persona",
             names = c("Intercept", "persona[T.retiree]", "persona[T.student]", "np.log(price)", "organic"),
             f = function(p) log(p), f1 = function(p) 1 / p, f2 = function(p) -1 / p^2),
  linear = list(fml = belief ~ i_ret + i_stu + price + organic, cols = 4L,
                patsy = "belief ~ price + organic + persona",
                names = c("Intercept", "persona[T.retiree]", "persona[T.student]", "price", "organic"),
                f = function(p) p, f1 = function(p) 1, f2 = function(p) 0),
  quadratic = list(fml = belief ~ i_ret + i_stu + price + p2 + organic, cols = c(4L, 5L),
                   patsy = "belief ~ price + I(price**2) + organic + persona",
                   names = c("Intercept", "persona[T.retiree]", "persona[T.student]", "price",
                             "I(price ** 2)", "organic"),
                   f = function(p) c(p, p^2), f1 = function(p) c(1, 2 * p), f2 = function(p) c(0, 2)))

## X with every row's price set to p
X_at <- function(X, spec, p) { X[, spec$cols] <- matrix(spec$f(p), nrow(X), length(spec$cols), byrow = TRUE); X }
Dx_at <- function(X, spec, p) { D <- matrix(0, nrow(X), ncol(X)); D[, spec$cols] <- matrix(spec$f1(p), nrow(X), length(spec$cols), byrow = TRUE); D }

demand <- function(b, X, spec, lf, p) mean(lf$G(drop(X_at(X, spec, p) %*% b)))
## profit derivative pieces at p
pieces <- function(b, X, spec, lf, p, cost) {
  Xp <- X_at(X, spec, p); eta <- drop(Xp %*% b)
  G <- lf$G(eta); g <- lf$g(eta); gp <- lf$gp(eta)
  s <- sum(spec$f1(p) * b[spec$cols]); t <- sum(spec$f2(p) * b[spec$cols])
  D <- mean(G); D1 <- mean(g * s); D2 <- mean(gp * s^2 + g * t)
  gD <- colMeans(Xp * g)
  gD1 <- colMeans(Xp * (gp * s)) + colMeans(Dx_at(X, spec, p) * g)
  list(D = D, D1 = D1, D2 = D2, gD = gD, gD1 = gD1,
       foc = D + (p - cost) * D1, soc = 2 * D1 + (p - cost) * D2)
}
optimum <- function(b, X, spec, lf, cost, lo = 20, hi = 50) {
  o <- optimize(function(p) (p - cost) * demand(b, X, spec, lf, p), c(lo, hi), maximum = TRUE, tol = 1e-12)
  p <- o$maximum
  for (i in 1:50) {
    pc <- pieces(b, X, spec, lf, p, cost); st <- -pc$foc / pc$soc; p <- p + st
    if (abs(st) < 1e-14 * p) break
  }
  if (p - lo < 1e-6 || hi - p < 1e-6) stop("optimum at a bound")
  p
}
opt_quantity <- function(X, spec, lf, cost) { force(X); force(spec); force(lf); force(cost); list(
  value = function(b) { p <- optimum(b, X, spec, lf, cost); D <- demand(b, X, spec, lf, p); c(p, D, (p - cost) * D) },
  jac = function(b) {
    p <- optimum(b, X, spec, lf, cost); pc <- pieces(b, X, spec, lf, p, cost)
    dp <- -(pc$gD + (p - cost) * pc$gD1) / pc$soc
    rbind(dp, pc$gD + pc$D1 * dp, (p - cost) * pc$gD) }) }

se_all <- function(J, covs) lapply(covs, function(V) { s <- unname(sqrt(diag(rbind(J) %*% V %*% t(rbind(J))))); if (length(s) == 1L) s else arr(s) })

cases <- list(); max_jac_check <- 0
for (link in c("logit", "probit")) for (pname in names(price_specs)) {
  spec <- price_specs[[pname]]; lf <- link_funs(link)
  F <- fit_qmle(spec$fml, dat, rep(1, n), link)
  fit <- F$fit; X <- F$X; b <- coef(fit); k <- ncol(X)
  stopifnot(ncol(X) == length(spec$names))
  G <- length(unique(dat$prompt))
  covs <- list(HC0_expected = unname(vcovHC(fit, type = "HC0")),
               cluster1_expected = unname(vcovCL(fit, cluster = ~prompt, type = "HC1")))
  iO <- k  # organic is the last column
  qs <- list()
  qs$demand_overall <- list(
    description = "mean_i G(x_i(p) b), every row's price set to p, p = 20, 30, 45",
    value = function(b) sapply(c(20, 30, 45), function(p) demand(b, X, spec, lf, p)),
    jac = function(b) t(sapply(c(20, 30, 45), function(p) { Xp <- X_at(X, spec, p); colMeans(Xp * lf$g(drop(Xp %*% b))) })))
  for (cost in c(0, 10)) {
    oq <- opt_quantity(X, spec, lf, cost)
    qs[[sprintf("optimal_price_overall_cost%d", cost)]] <- list(
      description = sprintf("argmax_p (p - %d) mean_i G(x_i(p) b) on [20, 50]; rows price, demand, profit; IFT Jacobian", cost),
      value = oq$value, jac = oq$jac, cost = cost)
  }
  if (pname == "linear") {
    iP <- 4L
    qs$wtp <- list(description = "-b_organic / b_price", at_price = NULL,
      value = function(b) -b[iO] / b[iP],
      jac = function(b) { J <- numeric(k); J[iO] <- -1 / b[iP]; J[iP] <- b[iO] / b[iP]^2; J })
  }
  if (pname == "log") {
    iL <- 4L
    qs$wtp <- list(description = "30 (exp(-b_organic / b_logprice) - 1): money WTP at reference price 30", at_price = 30,
      value = function(b) 30 * (exp(-b[iO] / b[iL]) - 1),
      jac = function(b) { r <- -b[iO] / b[iL]; J <- numeric(k); J[iO] <- 30 * exp(r) * (-1 / b[iL]); J[iL] <- 30 * exp(r) * b[iO] / b[iL]^2; J })
    if (link == "logit") {
      ## single profile organic = 1, persona = parent, cost 0: closed form
      ## FOC: G + p g b_lp / p = 0  <=>  1 + b_lp (1 - G) = 0  <=>  G* = 1 + 1/b_lp
      ## p* = exp((qlogis(1 + 1/b_lp) - a) / b_lp), a = b_0 + b_organic
      cf <- function(b) { bl <- b[iL]; a <- b[1] + b[iO]; exp((qlogis(1 + 1 / bl) - a) / bl) }
      cf_jac <- function(b) {
        bl <- b[iL]; a <- b[1] + b[iO]; Gs <- 1 + 1 / bl; L <- qlogis(Gs); p <- exp((L - a) / bl)
        dL <- (1 / (Gs * (1 - Gs))) * (-1 / bl^2)
        J <- numeric(k); J[1] <- -p / bl; J[iO] <- -p / bl; J[iL] <- p * (dL / bl - (L - a) / bl^2); J }
      Xrow <- matrix(c(1, 0, 0, 0, 1), 1)
      oq <- opt_quantity(Xrow, spec, lf, 0)
      assert_close(oq$value(b)[1], cf(b), 1e-10, "closed form vs optimise")
      assert_close(oq$jac(b)[1, ], cf_jac(b), 1e-8, "closed-form Jacobian vs IFT")
      qs$optimal_price_profile_closed_form <- list(
        description = "organic = 1, persona = parent, cost 0: p* = exp((qlogis(1 + 1/b_lp) - b_0 - b_organic) / b_lp); Jacobian of the closed form",
        value = cf, jac = cf_jac, cost = 0, profile = list(organic = 1, persona = "parent"))
    }
  }
  if (pname == "quadratic") {
    iP <- 4L; iQ <- 5L
    wq <- function(b) {  # b_p (30 + w) + b_q (30 + w)^2 - b_p 30 - b_q 900 = -b_o, root nearest 0
      A <- b[iQ]; B <- b[iP] + 60 * b[iQ]; C <- b[iO]
      r <- (-B + c(-1, 1) * sqrt(B^2 - 4 * A * C)) / (2 * A); r[which.min(abs(r))] }
    qs$wtp <- list(description = "w solving eta_price(30 + w) - eta_price(30) = -b_organic (quadratic in price)", at_price = 30,
      value = wq,
      jac = function(b) { w <- wq(b); Fw <- b[iP] + 2 * b[iQ] * (30 + w)
        Fb <- numeric(k); Fb[iO] <- 1; Fb[iP] <- w; Fb[iQ] <- (30 + w)^2 - 900; -Fb / Fw })
  }
  out_q <- list(); checks <- list()
  for (nm in names(qs)) {
    q <- qs[[nm]]; est <- q$value(b); J <- rbind(q$jac(b)); Jn <- num_jac(q$value, b)
    jc <- relmax(J, Jn); checks[[nm]] <- jc; max_jac_check <- max(max_jac_check, jc)
    if (jc > 1e-5) stop("analytic vs numerical Jacobian: ", nm, " ", link, " ", pname, " ", jc)
    out_q[[nm]] <- c(list(description = q$description,
                          estimate = if (length(est) == 1L) unname(est) else arr(unname(est)),
                          std_err = se_all(J, covs),
                          jacobian = if (nrow(J) == 1L) arr(unname(J[1, ])) else unname(J)),
                     q[intersect(names(q), c("cost", "at_price", "profile"))])
  }
  cat(sprintf("%-6s %-9s p*(c=0) = %.4f  p*(c=10) = %.4f  max jac check %.1e\n", link, pname,
              out_q$optimal_price_overall_cost0$estimate[1], out_q$optimal_price_overall_cost10$estimate[1],
              max(unlist(checks))))
  cases[[length(cases) + 1L]] <- list(
    dataset = "demand", formula = spec$patsy, link = link, price_terms = pname,
    cluster = "prompt", n = n, k = k, names = arr(spec$names),
    params = setNames(as.list(unname(b)), spec$names), cov = covs,
    quantities = out_q,
    meta = c(F$info, list(n_clusters = G, jacobian_check_rel_diff = checks)))
}

out <- list(
  description = paste("Demand curve, WTP and optimal price (IFT) with analytic delta-method SEs for the",
                      "fractional logit/probit on the simulated purchase study data/demand.csv; see README.md."),
  generated_by = "Rscript tests/reference/economics.R",
  R_version = R.version.string, sandwich_version = as.character(packageVersion("sandwich")),
  matrix_layout = "row-major list of rows; order = case$names",
  std_err_definition = "sqrt(J V J') with J the analytic Jacobian (checked against central differences), V = cov[name]",
  cov_definitions = list(HC0_expected = "sandwich::vcovHC(fit, type = 'HC0')",
                         cluster1_expected = "sandwich::vcovCL(fit, cluster = ~prompt, type = 'HC1')"),
  demand_definition = "D(p) = mean over all 576 rows of G(x_i(p) b) with every row's price set to p",
  search_interval = arr(c(20, 50)),
  max_jacobian_check_rel_diff = max_jac_check,
  cases = cases)
write_json_file(out, file.path(here, "economics.json"))
cat("wrote", file.path(here, "economics.json"), " (max analytic-vs-numeric Jacobian rel diff", max_jac_check, ")\n")
