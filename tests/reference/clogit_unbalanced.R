## Reference numbers for the conditional logit with UNBALANCED choice sets (issue 12, item 5).
## Run from the repository root:
##   Rscript tests/reference/clogit_unbalanced.R
## Reads tests/reference/data/unbalanced_choice.csv (make_unbalanced_choice_data.py), writes
## tests/reference/clogit_unbalanced.json.
##
## * 0/1 choices: survival::clogit (exact conditional likelihood; with one chosen alternative
##   per stratum it is McFadden's conditional logit over the alternatives each situation
##   offers), its model-based covariance and its robust covariance with cluster(obs), which is
##   the HC0 sandwich over situations (no small-sample factor; method "breslow", which equals
##   "exact" with one event per stratum and is the one with dfbeta residuals). The hand-written likelihood
##   below is checked against clogit to 1e-8 before anything is written.
## * belief shares: the multinomial QMLE over the offered alternatives, written out here by
##   hand (log-likelihood, scores per situation, information; Newton to a relative step below
##   1e-13), HC0 and CR1 by persona (G/(G-1) (n-1)/(n-k), n = situations).
## * post-estimation at the share fit: predicted shares in a counterfactual choice set (brand
##   "a" removed from every situation that offered it), per situation for the first six
##   situations and averaged over all 400, and the mean price elasticities over the
##   situations offering both alternatives, each with delta-method SEs (analytic Jacobian for
##   the predictions, central differences for the elasticities) under HC0.
suppressMessages(library(survival))
here <- NULL
local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  d <- if (length(f) == 1L) dirname(normalizePath(f)) else file.path(getwd(), "tests", "reference")
  source(file.path(d, "common.R"))
  here <<- d
})

d <- read.csv(file.path(here, "data", "unbalanced_choice.csv"))
d$bb <- as.numeric(d$brand == "b"); d$bc <- as.numeric(d$brand == "c")
d$bn <- as.numeric(d$brand == "none")
XN <- c("price", "promo", "bb", "bc", "bn")        # the package's order: see the test
X <- as.matrix(d[, XN])
sit <- as.integer(factor(d$obs))
G <- max(sit); k <- ncol(X)

## ---- hand-written conditional (quasi-)likelihood over the offered alternatives -------------
pieces <- function(b, y) {
  eta <- drop(X %*% b)
  m <- ave(eta, sit, FUN = max)
  e <- exp(eta - m)
  den <- ave(e, sit, FUN = sum)
  p <- e / den
  ll <- sum(y * (eta - m - log(den)))
  xbar <- rowsum(X * p, sit, reorder = TRUE)[sit, , drop = FALSE]   # sum_j p_j x_j per row
  dev <- X - xbar
  S <- rowsum(dev * y, sit, reorder = TRUE)                        # scores per situation
  info <- crossprod(dev * sqrt(p))
  list(ll = ll, p = p, S = S, grad = colSums(S), info = info)
}
newton <- function(y) {
  b <- rep(0, k)
  for (it in 1:100) {
    q <- pieces(b, y)
    step <- solve(q$info, q$grad)
    b <- b + step
    if (max(abs(step) / (1 + abs(b))) < 1e-13) break
  }
  q <- pieces(b, y)
  list(b = b, q = q, it = it)
}
sandwich_hc0 <- function(q) { A <- solve(q$info); A %*% crossprod(q$S) %*% A }
sandwich_cr1 <- function(q, cl) {
  A <- solve(q$info)
  Sg <- rowsum(q$S, cl, reorder = FALSE)
  Gc <- nrow(Sg); n <- nrow(q$S)
  Gc / (Gc - 1) * (n - 1) / (n - k) * A %*% crossprod(Sg) %*% A
}

## ---- 0/1 choices: survival::clogit ----------------------------------------------------------
fit <- clogit(choice ~ price + promo + bb + bc + bn + strata(obs), data = d, method = "exact",
              control = coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 100))
## robust (dfbeta) variances need method "breslow"; with one event per stratum it is exact
fit_r <- clogit(choice ~ price + promo + bb + bc + bn + strata(obs), data = d, method = "breslow",
                cluster = obs, control = coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 100))
assert_close(unname(coef(fit_r)), unname(coef(fit)), 1e-10, "breslow = exact (one event)")
mine <- newton(d$choice)
assert_close(mine$b, unname(coef(fit)), 1e-8, "choice estimates vs clogit")
assert_close(solve(mine$q$info), unname(fit$var), 1e-6, "choice model covariance vs clogit")
assert_close(sandwich_hc0(mine$q), unname(fit_r$var), 1e-6, "choice robust covariance vs clogit")

## ---- belief shares: the QMLE ----------------------------------------------------------------
sh <- newton(d$belief)
persona <- d$persona[match(seq_len(G), sit)]
V0 <- sandwich_hc0(sh$q)
Vcl <- sandwich_cr1(sh$q, persona)

## ---- counterfactual: brand "a" leaves the shelf --------------------------------------------
cf <- d[d$brand != "a", ]
Xc <- as.matrix(cf[, XN]); sc <- as.integer(factor(cf$obs))
cf_prob <- function(b) {
  eta <- drop(Xc %*% b)
  e <- exp(eta - ave(eta, sc, FUN = max))
  e / ave(e, sc, FUN = sum)
}
pc <- cf_prob(sh$b)
Jc <- (Xc - rowsum(Xc * pc, sc, reorder = TRUE)[sc, , drop = FALSE]) * pc   # dp/db'
first <- which(sc <= 6)
pred_rows <- list(obs = arr(cf$obs[first]), brand = arr(cf$brand[first]),
                  mean = arr(unname(pc[first])),
                  se = arr(unname(sqrt(rowSums((Jc[first, ] %*% V0) * Jc[first, ])))))
alts <- c("a", "b", "c", "none")
avg <- sapply(alts, function(a) sum(pc[cf$brand == a]) / max(sc))
Javg <- t(sapply(alts, function(a) colSums(Jc[cf$brand == a, , drop = FALSE]) / max(sc)))
avg_se <- sqrt(rowSums((Javg %*% V0) * Javg))

## ---- mean price elasticities over the situations offering both m and l ---------------------
elast <- function(b) {
  p <- pieces(b, d$belief)$p
  bp <- b[1]
  out <- matrix(NA_real_, 4, 4)
  for (m in seq_along(alts)) for (l in seq_along(alts)) {
    vals <- c()
    for (g in seq_len(G)) {
      rows <- which(sit == g)
      im <- rows[d$brand[rows] == alts[m]]; il <- rows[d$brand[rows] == alts[l]]
      if (length(im) == 1 && length(il) == 1)
        vals <- c(vals, bp * d$price[il] * ((m == l) - p[il]))
    }
    out[m, l] <- if (length(vals)) mean(vals) else NA_real_
  }
  out
}
E <- elast(sh$b)
h <- 1e-6 * pmax(abs(sh$b), 1)
JE <- sapply(seq_len(k), function(j) {
  bp <- sh$b; bm <- sh$b; bp[j] <- bp[j] + h[j]; bm[j] <- bm[j] - h[j]
  as.vector(t(elast(bp) - elast(bm))) / (2 * h[j])                  # row-major (m, l)
})
E_se <- sqrt(rowSums((JE %*% V0) * JE))

out <- list(
  meta = list(R = R.version.string, survival = as.character(packageVersion("survival")),
              params = XN, n_situations = G, n_rows = nrow(d)),
  choice = list(params = arr(unname(coef(fit))), cov_nonrobust = unname(fit$var),
                cov_hc0 = unname(fit_r$var), loglik = fit$loglik[2]),
  belief = list(params = arr(unname(sh$b)), cov_hc0 = V0, cov_cluster_persona = Vcl,
                quasi_llf = sh$q$ll, n_iter = sh$it),
  counterfactual_without_a = list(rows = pred_rows, average_alternatives = arr(alts),
                                  average = arr(unname(avg)), average_se = arr(unname(avg_se))),
  elasticity_price = list(alternatives = arr(alts), estimate = E,
                          std_err = matrix(E_se, 4, 4, byrow = TRUE))
)
write_json_file(out, file.path(here, "clogit_unbalanced.json"))
cat("wrote clogit_unbalanced.json\n")
