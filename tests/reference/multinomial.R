## Reference numbers for the multinomial fractional logit (Mullahy 2015 / Stata fmlogit QMLE)
## and the conditional logit (McFadden; multinomial QMLE on long-format shares), their sandwich
## covariances and post-estimation quantities with delta-method standard errors.
## Run from the repository root:
##   Rscript tests/reference/multinomial.R
## Reads tests/reference/data/diapers_{wide,long}.csv (make_multinomial_data.py), writes
## tests/reference/multinomial.json.  The quasi-likelihood, scores, information, Newton
## iterations (to a relative step < 1e-12, then one more evaluation) and sandwiches are written out here by hand; sandwich::vcovCL (through estfun /
## bread methods on a small S3 object), nnet::multinom and survival::clogit are independent
## checks of the covariance conventions and the estimates.
suppressMessages({library(sandwich); library(nnet); library(survival); library(numDeriv)})
here <- NULL
local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  d <- if (length(f) == 1L) dirname(normalizePath(f)) else file.path(getwd(), "tests", "reference")
  source(file.path(d, "common.R"))
  here <<- d
})

CHECK_TOL <- 1e-10
wide <- read.csv(file.path(here, "data", "diapers_wide.csv"))
long <- read.csv(file.path(here, "data", "diapers_long.csv"))
SHARES <- c("s_pampers", "s_huggies", "s_luvs", "s_none")
BRANDS <- c("pampers", "huggies", "luvs")

## ---- covariances from bread (A^-1) and scores, the package's conventions --------------------
cluster_factor <- function(G, n, K) G / (G - 1) * (n - 1) / (n - K)
covariances <- function(Ainv, S, cl1, cl2) {
  n <- nrow(S); K <- ncol(S)
  one_way <- function(cl) {
    G <- length(unique(cl))
    cluster_factor(G, n, K) * Ainv %*% clmeat(S, cl) %*% Ainv
  }
  hc0 <- Ainv %*% crossprod(S) %*% Ainv
  inter <- paste(cl1, cl2, sep = "\r")
  list(nonrobust = Ainv, HC0 = hc0, HC1 = n / (n - K) * hc0,
       cluster1 = one_way(cl1),
       cluster2 = one_way(cl1) + one_way(cl2) - one_way(inter))
}

## sandwich's own implementation as a check: an S3 object with estfun and bread methods
estfun.refmodel <- function(x, ...) x$S
bread.refmodel <- function(x, ...) nrow(x$S) * x$Ainv
nobs.refmodel <- function(object, ...) nrow(object$S)
sandwich_check <- function(covs, Ainv, S, cl1, cl2) {
  obj <- structure(list(S = S, Ainv = Ainv), class = "refmodel")
  c(HC0 = relmax(covs$HC0, sandwich(obj)),
    cluster1 = relmax(covs$cluster1, vcovCL(obj, cluster = cl1, type = "HC1")),
    cluster2 = relmax(covs$cluster2, vcovCL(obj, cluster = data.frame(cl1, cl2), type = "HC1",
                                            multi0 = FALSE)))
}

## ---- multinomial fractional logit ------------------------------------------------------------
## Y: n x J shares (base = column `base`), X: n x k, b: m*k (alternative-major), w: weights.
mnl_pieces <- function(X, Y, base, b, w) {
  k <- ncol(X); nb <- setdiff(seq_len(ncol(Y)), base); m <- length(nb)
  B <- matrix(b, k, m)
  eta <- X %*% B
  c0 <- pmax(apply(eta, 1, max), 0)
  e <- exp(eta - c0); e0 <- exp(-c0); den <- e0 + rowSums(e)
  P <- e / den
  lse <- c0 + log(den)
  Yn <- Y[, nb, drop = FALSE]
  R <- (Yn - P) * w
  S <- do.call(cbind, lapply(seq_len(m), function(j) X * R[, j]))
  A <- matrix(0, m * k, m * k)
  for (j in seq_len(m)) for (l in seq_len(m)) {
    h <- w * P[, j] * ((j == l) - P[, l])
    A[(j - 1) * k + 1:k, (l - 1) * k + 1:k] <- crossprod(X * h, X)
  }
  list(S = S, A = A, score = colSums(S), P = P, qll = sum(w * (rowSums(Yn * eta) - lse)))
}

fit_mnl <- function(X, Y, base, w) {
  b <- rep(0, ncol(X) * (ncol(Y) - 1)); steps <- 0L
  for (it in 1:100) {
    pc <- mnl_pieces(X, Y, base, b, w)
    st <- solve(pc$A, pc$score); b <- b + st; steps <- it
    if (max(abs(st) / pmax(abs(b), 1e-8)) < 1e-12) break  # quadratic: next error ~1e-24
  }
  pc <- mnl_pieces(X, Y, base, b, w)
  list(b = b, pieces = pc, steps = steps,
       max_rel_score = max(abs(pc$score) / colSums(abs(pc$S))))
}

mnl_design <- function(d) cbind(Intercept = 1, lpp = log(d$price_pampers),
                                lph = log(d$price_huggies), lpl = log(d$price_luvs),
                                income = d$income)
TERMS <- c("Intercept", "np.log(price_pampers)", "np.log(price_huggies)",
           "np.log(price_luvs)", "income")

mnl_case <- function(label, Y, alt_names, base, weights) {
  X <- mnl_design(wide)
  w <- if (is.null(weights)) rep(1, nrow(X)) else wide[[weights]]
  Y <- Y / rowSums(Y)
  f <- fit_mnl(X, Y, base, w)
  Ainv <- solve(f$pieces$A)
  covs <- covariances(Ainv, f$pieces$S, wide$persona, wide$condition)
  checks <- sandwich_check(covs, Ainv, f$pieces$S, wide$persona, wide$condition)
  if (any(checks > CHECK_TOL)) stop("sandwich check failed: ", paste(checks, collapse = " "))
  names_b <- as.vector(outer(TERMS, alt_names[-base], function(t, a) paste0(a, ":", t)))
  ## nnet::multinom (BFGS; treats the rows of Y as counts) as a check of the estimates
  mm <- multinom(Y[, c(base, setdiff(seq_along(alt_names), base))] ~ X - 1, weights = w,
                 trace = FALSE, reltol = 1e-14, abstol = 1e-300, maxit = 5000)
  b_nnet <- as.vector(t(coef(mm)))
  list(case = label, model = "multinomial", weights = weights, base = alt_names[base],
       alternatives = alt_names, n = nrow(X), k_params = length(f$b), names = names_b,
       params = setNames(as.list(f$b), names_b),
       cov = lapply(covs, function(v) { dimnames(v) <- NULL; v }),
       quasi_llf = f$pieces$qll,
       meta = list(newton_steps = f$steps, max_rel_score = f$max_rel_score,
                   sandwich_check_max_rel_diff = as.list(checks),
                   nnet_multinom_max_abs_diff = max(abs(b_nnet - f$b)),
                   n_clusters = list(persona = length(unique(wide$persona)),
                                     condition = length(unique(wide$condition)),
                                     intersection = length(unique(paste(wide$persona, wide$condition))))),
       fit = f, X = X, Y = Y, w = w, base_index = base)
}

## ---- conditional logit -------------------------------------------------------------------------
## Z: N x K long rows, y: N, grp: situation id (rows of a situation contiguous), w: per row
## (constant within a situation).
cl_pieces <- function(Z, y, grp, b, w) {
  eta <- drop(Z %*% b)
  mx <- ave(eta, grp, FUN = max)
  e <- exp(eta - mx); den <- ave(e, grp, FUN = sum)
  p <- e / den
  lse <- mx + log(den)
  S <- rowsum(Z * (w * (y - p)), grp, reorder = FALSE)
  zbar <- rowsum(Z * p, grp, reorder = FALSE)[as.character(grp), , drop = FALSE]
  D <- Z - zbar
  A <- crossprod(D * (w * p), D)
  list(S = S, A = A, score = colSums(S), p = p,
       qll = sum(w * y * (eta - lse)))
}

fit_cl <- function(Z, y, grp, w) {
  b <- rep(0, ncol(Z)); steps <- 0L
  for (it in 1:100) {
    pc <- cl_pieces(Z, y, grp, b, w)
    st <- solve(pc$A, pc$score); b <- b + st; steps <- it
    if (max(abs(st) / pmax(abs(b), 1e-8)) < 1e-12) break  # quadratic: next error ~1e-24
  }
  pc <- cl_pieces(Z, y, grp, b, w)
  list(b = b, pieces = pc, steps = steps,
       max_rel_score = max(abs(pc$score) / colSums(abs(pc$S))))
}

CL_BRAND <- 'C(brand, Treatment("none"))'
CL_NAMES <- c(paste0(CL_BRAND, "[T.", c("huggies", "luvs", "pampers"), "]"), "price",
              paste0(CL_BRAND, "[T.", c("huggies", "luvs", "pampers"), "]:income"))
cl_design <- function(d) {
  dh <- as.numeric(d$brand == "huggies"); dl <- as.numeric(d$brand == "luvs")
  dp <- as.numeric(d$brand == "pampers")
  cbind(dh, dl, dp, d$price, dh * d$income, dl * d$income, dp * d$income)
}

cl_case <- function(label, outcome, weights) {
  Z <- cl_design(long); y <- long[[outcome]]
  w <- if (is.null(weights)) rep(1, nrow(Z)) else long[[weights]]
  grp <- long$obs
  f <- fit_cl(Z, y, grp, w)
  Ainv <- solve(f$pieces$A)
  first <- !duplicated(grp)
  covs <- covariances(Ainv, f$pieces$S, long$persona[first], long$condition[first])
  checks <- sandwich_check(covs, Ainv, f$pieces$S, long$persona[first], long$condition[first])
  if (any(checks > CHECK_TOL)) stop("sandwich check failed: ", paste(checks, collapse = " "))
  meta <- list(newton_steps = f$steps, max_rel_score = f$max_rel_score,
               sandwich_check_max_rel_diff = as.list(checks), n_rows = nrow(Z))
  if (outcome == "chosen" && is.null(weights)) {
    cf <- clogit(chosen ~ Z + strata(obs), data = long, method = "exact",
                 control = coxph.control(eps = 1e-12, iter.max = 100))
    meta$clogit_params_max_rel_diff <- relmax(unname(coef(cf)), f$b)
    meta$clogit_vcov_max_rel_diff <- relmax(unname(vcov(cf)), covs$nonrobust)
    if (meta$clogit_params_max_rel_diff > 1e-8) stop("clogit disagrees")
  }
  list(case = label, model = "conditional", outcome = outcome, weights = weights,
       formula = paste0(outcome, " ~ price + ", CL_BRAND, " * income"),
       groups = "obs", alternatives_column = "brand", n = sum(first), k_params = length(f$b),
       names = CL_NAMES, params = setNames(as.list(f$b), CL_NAMES),
       cov = lapply(covs, function(v) { dimnames(v) <- NULL; v }),
       quasi_llf = f$pieces$qll, meta = meta,
       fit = f, Z = Z, y = y, w = w, grp = grp)
}

## ---- post-estimation: functions of b, Jacobians by numDeriv (Richardson) ---------------------
delta <- function(fun, b, covs, keys) {
  est <- unname(fun(b))
  J <- numDeriv::jacobian(fun, b, method = "Richardson",
                          method.args = list(eps = 1e-4, d = 1e-3, r = 6))
  se <- lapply(covs[keys], function(V) sqrt(pmax(diag(J %*% V %*% t(J)), 0)))
  list(estimate = est, std_err = se)
}

mnl_post <- function(cs) {
  X <- cs$X; base <- cs$base_index; J <- ncol(cs$Y); k <- ncol(X)
  nb <- setdiff(seq_len(J), base)
  probs <- function(b) {
    eta <- matrix(0, nrow(X), J); eta[, nb] <- X %*% matrix(b, k, J - 1)
    e <- exp(eta - apply(eta, 1, max)); e / rowSums(e)
  }
  ## derivative of the design row w.r.t. each raw price (analytic: d log(p) / dp = 1 / p)
  price_vars <- c("price_pampers", "price_huggies", "price_luvs")
  dX <- lapply(seq_along(price_vars), function(v) {
    d <- matrix(0, nrow(X), k); d[, 1 + v] <- 1 / wide[[price_vars[v]]]; d })
  vals <- lapply(price_vars, function(v) wide[[v]])
  dydx <- function(b, v) {               # n x J: d p_ij / d v_i
    P <- probs(b); D <- matrix(0, nrow(X), J); D[, nb] <- dX[[v]] %*% matrix(b, k, J - 1)
    P * (D - rowSums(P * D))
  }
  elast <- function(b, aggregate) {      # J x V, vectorised row-major (alternative, variable)
    P <- probs(b)
    out <- sapply(seq_along(price_vars), function(v) {
      dp <- dydx(b, v)
      if (aggregate) colMeans(dp * vals[[v]]) / colMeans(P) else colMeans(dp * vals[[v]] / P)
    })
    as.vector(t(out))
  }
  margins <- function(b) as.vector(t(sapply(seq_along(price_vars), function(v) colMeans(dydx(b, v)))))
  diversion <- function(b) {             # from brand l (its price rises) to every alternative
    ## sapply gives a J x V matrix (column v = from alternative v); column-major = row-major (l, m)
    as.vector(sapply(seq_along(price_vars), function(v) {
      m <- colMeans(dydx(b, v)); -m / m[v] }))   # price_vars[v] is the price of alternative v
  }
  keys <- c("HC0", "cluster1")
  alt <- cs$alternatives
  list(
    variables = price_vars,
    alternatives = alt,
    diversion_prices = setNames(as.list(price_vars), alt[1:3]),
    mean_shares = delta(function(b) colMeans(probs(b)), cs$fit$b, cs$cov, keys),
    elasticity_mean = delta(function(b) elast(b, FALSE), cs$fit$b, cs$cov, keys),
    elasticity_aggregate = delta(function(b) elast(b, TRUE), cs$fit$b, cs$cov, keys),
    dydx = delta(margins, cs$fit$b, cs$cov, keys),
    diversion = delta(diversion, cs$fit$b, cs$cov, keys),
    layout = paste("elasticity/dydx: row-major (alternative, variable) with alternatives in",
                   "the outcome's order and variables = price_pampers, price_huggies, price_luvs;",
                   "diversion: row-major (from brand l = pampers, huggies, luvs [its price rises],",
                   "to alternative m in the outcome's order)"))
}

cl_post <- function(cs) {
  Z <- cs$Z; grp <- cs$grp; w <- cs$w
  alt_order <- c("huggies", "luvs", "none", "pampers")   # sorted, as the package orders them
  Jn <- length(alt_order); G <- length(unique(grp))
  idx <- order(grp, match(long$brand, alt_order))
  grid <- function(v) matrix(v[idx], G, Jn, byrow = TRUE)
  price <- grid(long$price)
  probs <- function(b) { e <- exp(grid(drop(Z %*% b))); e / rowSums(e) }
  pcol <- which(CL_NAMES == "price")
  dydx <- function(b) {                  # J x J: mean_g d p_gm / d v_gl
    P <- probs(b); d <- b[pcol]          # d eta_gl / d price_gl = b_price
    out <- matrix(0, Jn, Jn)
    for (m in 1:Jn) for (l in 1:Jn) out[m, l] <- mean(P[, m] * ((m == l) - P[, l]) * d)
    out
  }
  elast <- function(b, aggregate) {
    P <- probs(b); d <- b[pcol]; out <- matrix(0, Jn, Jn)
    for (m in 1:Jn) for (l in 1:Jn) {
      dp <- P[, m] * ((m == l) - P[, l]) * d
      out[m, l] <- if (aggregate) mean(dp * price[, l]) / mean(P[, m])
                   else mean(dp * price[, l] / P[, m])
    }
    as.vector(t(out))
  }
  diversion <- function(b) { M <- dydx(b); D <- -t(M) / diag(M); as.vector(t(D)) }  # D[l, m]
  wtp <- function(b) -b[1:3] / b[pcol]
  keys <- c("HC0", "cluster1")
  list(
    alternatives = alt_order, variable = "price",
    mean_shares = delta(function(b) colMeans(probs(b)), cs$fit$b, cs$cov, keys),
    elasticity_mean = delta(function(b) elast(b, FALSE), cs$fit$b, cs$cov, keys),
    elasticity_aggregate = delta(function(b) elast(b, TRUE), cs$fit$b, cs$cov, keys),
    dydx = delta(function(b) as.vector(t(dydx(b))), cs$fit$b, cs$cov, keys),
    diversion = delta(diversion, cs$fit$b, cs$cov, keys),
    wtp = c(list(attributes = CL_NAMES[1:3]), delta(wtp, cs$fit$b, cs$cov, keys)),
    layout = paste("matrices row-major (share of alternative m, price of alternative l) with",
                   "alternatives sorted (huggies, luvs, none, pampers); diversion: row-major",
                   "(from l, to m); wtp: -b_attribute / b_price for the three brand constants"))
}

## ---- run --------------------------------------------------------------------------------------
Yshares <- as.matrix(wide[, SHARES])
choice_levels <- c("huggies", "luvs", "none", "pampers")   # patsy's C(choice) column order
Ychoice <- sapply(choice_levels, function(l) as.numeric(wide$choice == l))
mn_cases <- list(
  mnl_case("shares", Yshares, SHARES, 4L, NULL),
  mnl_case("shares_weighted", Yshares, SHARES, 4L, "w"),
  mnl_case("choices", Ychoice, paste0("C(choice)[", choice_levels, "]"), 3L, NULL))
mn_cases[[1]]$post <- mnl_post(mn_cases[[1]])
mn_cases[[1]]$formula <- paste(paste(SHARES, collapse = " + "), "~",
                               paste(TERMS[-1], collapse = " + "))
mn_cases[[2]]$formula <- mn_cases[[1]]$formula
mn_cases[[3]]$formula <- paste("C(choice) ~", paste(TERMS[-1], collapse = " + "))

cl_cases <- list(cl_case("beliefs", "belief", NULL), cl_case("beliefs_weighted", "belief", "w"),
                 cl_case("choices", "chosen", NULL))
cl_cases[[1]]$post <- cl_post(cl_cases[[1]])

strip <- function(cs) { cs[c("fit", "X", "Y", "w", "base_index", "Z", "y", "grp")] <- NULL; cs }
out <- list(
  description = paste(
    "Multinomial fractional logit (share QMLE, Mullahy 2015) on diapers_wide.csv and conditional",
    "logit on diapers_long.csv: estimates (Newton on the hand-written quasi-log-likelihood until",
    "the relative step < 1e-12, quadratic convergence), covariance matrices and post-estimation quantities with",
    "delta-method standard errors (numDeriv Richardson Jacobians)."),
  generated_by = "tests/reference/multinomial.R",
  R_version = R.version.string,
  sandwich_version = as.character(packageVersion("sandwich")),
  matrix_layout = "row-major lists of rows; parameter order = names",
  cov_definitions = paste(
    "A = minus the Hessian of the quasi-log-likelihood (observed = expected); scores S: one row per",
    "observation (multinomial) or per choice situation (conditional: s_g = sum_j w_g (y_gj - p_gj) z_gj);",
    "nonrobust = A^-1; HC0 = A^-1 S'S A^-1; HC1 = n/(n-K) HC0; cluster1 (persona) =",
    "G/(G-1)(n-1)/(n-K) A^-1 sum_g S_g S_g' A^-1; cluster2 (persona, condition) = V_persona +",
    "V_condition - V_intersection, each with its own G/(G-1) (intersection: non-empty cells) and",
    "(n-1)/(n-K). n = observations (multinomial) or choice situations (conditional, not long rows);",
    "K = all parameters. Checked against sandwich::sandwich / vcovCL(type = 'HC1', multi0 = FALSE)",
    "applied to the same scores and bread (meta$sandwich_check_max_rel_diff)."),
  multinomial = lapply(mn_cases, strip),
  conditional = lapply(cl_cases, strip))
write_json_file(out, file.path(here, "multinomial.json"))
cat("wrote multinomial.json\n")
for (cs in c(mn_cases, cl_cases)) cat(sprintf("%-12s %-18s steps %d  max_rel_score %.1e\n",
                                              cs$model, cs$case, cs$meta$newton_steps, cs$meta$max_rel_score))
cat("nnet::multinom max abs diff:", sapply(mn_cases, function(cs) cs$meta$nnet_multinom_max_abs_diff), "\n")
cat("clogit:", cl_cases[[3]]$meta$clogit_params_max_rel_diff, cl_cases[[3]]$meta$clogit_vcov_max_rel_diff, "\n")
