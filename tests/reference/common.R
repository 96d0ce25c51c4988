## Shared helpers for the reference scripts (fractional_glm.R, margins.R).
## Pure base R + sandwich; JSON is written by a tiny serializer below because
## jsonlite::toJSON(digits = NA) keeps only 15 significant digits, whereas we
## want every double to round-trip exactly (sprintf("%.17g")).

script_dir <- function() {
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
}

## ---- links: G (cdf), g = G', gp = g' -------------------------------------
link_funs <- function(link) {
  switch(link,
    logit = list(
      G   = function(eta) plogis(eta),
      G1m = function(eta) plogis(eta, lower.tail = FALSE),       # 1 - G
      g   = function(eta) { p <- plogis(eta); p * (1 - p) },
      gp  = function(eta) { p <- plogis(eta); p * (1 - p) * (1 - 2 * p) }),
    probit = list(
      G   = function(eta) pnorm(eta),
      G1m = function(eta) pnorm(eta, lower.tail = FALSE),
      g   = function(eta) dnorm(eta),
      gp  = function(eta) -eta * dnorm(eta)),
    stop("unknown link ", link))
}

## Bernoulli quasi-log-likelihood pieces at b, prior weights pw.
##  score_i = pw_i (y_i - G_i) g_i / (G_i (1 - G_i)) x_i
##  expected information  = sum pw_i g_i^2 / (G_i (1-G_i)) x_i x_i'
##  observed information  = - Hessian of sum pw_i [y log G + (1-y) log(1-G)]
##     = sum pw_i [ g^2/v - (y-G) (g'/v - g^2 (1-2G)/v^2) ] x_i x_i',  v = G(1-G)
qll_pieces <- function(X, y, b, pw, link) {
  lf <- link_funs(link)
  eta <- drop(X %*% b)
  G <- lf$G(eta); G1m <- lf$G1m(eta); g <- lf$g(eta); gp <- lf$gp(eta)
  v <- G * G1m
  r <- y - G
  sc_w <- pw * r * g / v
  S <- X * sc_w
  w_exp <- pw * g^2 / v
  w_obs <- pw * (g^2 / v - r * (gp / v - g^2 * (1 - 2 * G) / v^2))
  list(eta = eta, G = G, g = g, gp = gp, S = S,
       I_exp = crossprod(X * w_exp, X), I_obs = crossprod(X * w_obs, X),
       score = colSums(S),
       qll = sum(pw * (y * log(G) + (1 - y) * log(G1m))))
}

## one-way clustered "meat" sum_g s_g s_g'  (no scaling)
clmeat <- function(S, cl) { Sg <- rowsum(S, as.character(cl), reorder = FALSE); crossprod(Sg) }

## ---- minimal JSON writer (exact doubles) ----------------------------------
json_num <- function(x) {
  if (any(!is.finite(x))) stop("non-finite number in JSON output")
  s <- sprintf("%.17g", x)
  s
}
json_str <- function(s) paste0('"', gsub('"', '\\\\"', gsub("\\\\", "\\\\\\\\", s)), '"')
to_json <- function(x, indent = 0L) {
  pad <- strrep(" ", indent); pad1 <- strrep(" ", indent + 1L)
  if (is.null(x)) return("null")
  if (inherits(x, "json_array")) { x <- unclass(x); if (length(x) == 0) return("[]")
    return(paste0("[", paste(vapply(x, to_json, "", indent = indent + 1L), collapse = ", "), "]")) }
  if (is.matrix(x)) {
    rows <- vapply(seq_len(nrow(x)), function(i) paste0("[", paste(json_num(x[i, ]), collapse = ", "), "]"), "")
    return(paste0("[\n", paste0(pad1, rows, collapse = ",\n"), "\n", pad, "]"))
  }
  if (is.list(x)) {
    nm <- names(x)
    if (is.null(nm)) {
      if (length(x) == 0) return("[]")
      items <- vapply(x, to_json, "", indent = indent + 1L)
      return(paste0("[\n", paste0(pad1, items, collapse = ",\n"), "\n", pad, "]"))
    }
    if (length(x) == 0) return("{}")
    items <- vapply(seq_along(x), function(i) paste0(json_str(nm[i]), ": ", to_json(x[[i]], indent + 1L)), "")
    return(paste0("{\n", paste0(pad1, items, collapse = ",\n"), "\n", pad, "}"))
  }
  if (is.character(x)) {
    if (length(x) == 1L && is.null(attr(x, "array"))) return(json_str(x))
    return(paste0("[", paste(json_str(x), collapse = ", "), "]"))
  }
  if (is.logical(x)) {
    if (length(x) == 1L && is.null(attr(x, "array"))) return(if (is.na(x)) "null" else tolower(as.character(x)))
    return(paste0("[", paste(tolower(as.character(x)), collapse = ", "), "]"))
  }
  if (is.numeric(x)) {
    if (!is.null(names(x))) return(to_json(as.list(x), indent))
    if (length(x) == 1L && is.null(attr(x, "array"))) return(json_num(x))
    return(paste0("[", paste(json_num(x), collapse = ", "), "]"))
  }
  stop("cannot serialize class ", class(x)[1])
}
## mark a vector as a JSON array even when it has length 1
arr <- function(x) { attr(x, "array") <- TRUE; x }
write_json_file <- function(x, path) writeLines(to_json(x), path, useBytes = TRUE)

relmax <- function(a, b) max(abs(a - b)) / max(abs(b))
assert_close <- function(a, b, tol, what) {
  d <- relmax(a, b)
  if (!(d < tol)) stop(sprintf("check failed: %s (rel diff %.3g >= %.1g)", what, d, tol))
  invisible(d)
}

## ---- fit: glm + Newton polish + refit at the polished estimate --------------
## glm's IRLS (Fisher scoring) converges only linearly for the probit, and glm
## stores weights/QR from the start of its last iteration; see README.md.
fit_qmle <- function(fml, dat, pw, link, eps = 1e-14) {
  dat$.pw <- pw
  fit <- glm(fml, family = quasibinomial(link = link), data = dat, weights = .pw,
             control = glm.control(epsilon = eps, maxit = 100))
  if (!fit$converged) stop("glm did not converge")
  X <- model.matrix(fit); y <- model.response(model.frame(fit))
  b <- coef(fit); b_irls <- b; steps <- 0L
  for (it in 1:50) {
    P <- qll_pieces(X, y, b, pw, link)
    st <- solve(P$I_obs, P$score); b <- b + st; steps <- it
    if (max(abs(st) / pmax(abs(b), 1e-8)) < 1e-15) break
  }
  fit <- glm(fml, family = quasibinomial(link = link), data = dat, weights = .pw,
             start = b, control = glm.control(epsilon = eps, maxit = 100))
  if (!fit$converged) stop("glm restart did not converge")
  d <- max(abs(coef(fit) - b) / abs(b))
  if (d > 1e-12) stop("glm restarted at the Newton solution moved away: ", d)
  list(fit = fit, X = X, y = y, pw = pw,
       info = list(newton_polish_steps = steps,
                   max_rel_diff_first_glm_fit_vs_polished = max(abs(b_irls - coef(fit)) / abs(coef(fit))),
                   glm_epsilon = eps))
}
