## Reference numbers for the linearmodels bridge: Berry's (1994) logit inversion (OLS, absorbed
## fixed effects, IV) and the linear probability model with fixed effects.
## Run from the repository root:
##   Rscript tests/reference/linear.R
## Reads tests/reference/data/diapers_{wide,long}.csv, writes tests/reference/linear.json.
## Fixed effects are estimated as factor dummies in lm (LSDV); covariances by sandwich:
## vcovHC(type = "HC0"/"HC1"), vcovCL(type = "HC1", multi0 = FALSE), with k = every
## coefficient of the dummy regression (the convention beliefreg documents). The conventions are
## also recomputed by hand and asserted.
suppressMessages({library(sandwich); library(AER)})
here <- NULL
local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  d <- if (length(f) == 1L) dirname(normalizePath(f)) else file.path(getwd(), "tests", "reference")
  source(file.path(d, "common.R"))
  here <<- d
})

FLOOR <- 0.005
long <- read.csv(file.path(here, "data", "diapers_long.csv"))
wide <- read.csv(file.path(here, "data", "diapers_wide.csv"))

## Berry inversion with the floor applied to every share (inside and outside), no renormalisation
s <- pmax(long$belief, FLOOR)
s0 <- ave(ifelse(long$brand == "none", s, 0), long$obs, FUN = sum)
inv <- long[long$brand != "none", ]
inv$y <- log(s[long$brand != "none"]) - log(s0[long$brand != "none"])
inv$brand <- factor(inv$brand, levels = c("huggies", "luvs", "pampers"))

rename <- function(nm) {
  nm <- sub("^\\(Intercept\\)$", "Intercept", nm)
  nm <- sub("^brand(.*)$", "C(brand)[T.\\1]", nm)
  nm <- sub("^log\\(price_(.*)\\)$", "np.log(price_\\1)", nm)
  nm
}

covs_for <- function(fit, keep, data) {
  cl1 <- data$persona; cl2 <- data$condition
  list(nonrobust = vcov(fit)[keep, keep],
       HC0 = vcovHC(fit, type = "HC0")[keep, keep],
       HC1 = vcovHC(fit, type = "HC1")[keep, keep],
       cluster1 = vcovCL(fit, cluster = cl1, type = "HC1")[keep, keep],
       cluster2 = vcovCL(fit, cluster = data.frame(cl1, cl2), type = "HC1",
                         multi0 = FALSE)[keep, keep])
}

## by-hand check of the conventions for lm: CR1 with k = all coefficients
hand_check <- function(fit, data, covs, keep) {
  X <- model.matrix(fit); e <- residuals(fit); n <- nrow(X); k <- ncol(X)
  Ainv <- solve(crossprod(X)); S <- X * e
  one_way <- function(cl) { G <- length(unique(cl))
    G / (G - 1) * (n - 1) / (n - k) * Ainv %*% clmeat(S, cl) %*% Ainv }
  inter <- paste(data$persona, data$condition)
  mine <- list(HC0 = Ainv %*% crossprod(S) %*% Ainv,
               cluster1 = one_way(data$persona),
               cluster2 = one_way(data$persona) + one_way(data$condition) - one_way(inter))
  d <- c(HC0 = relmax(mine$HC0[keep, keep], covs$HC0),
         cluster1 = relmax(mine$cluster1[keep, keep], covs$cluster1),
         cluster2 = relmax(mine$cluster2[keep, keep], covs$cluster2))
  if (any(d > 1e-10)) stop("hand check failed ", paste(d, collapse = " "))
  as.list(d)
}

make_case <- function(label, fit, data, keep, formula, effects, extra = list()) {
  covs <- covs_for(fit, keep, data)
  checks <- if (inherits(fit, "ivreg")) NULL else hand_check(fit, data, covs, keep)
  b <- coef(fit)[keep]
  nm <- rename(keep)
  c(list(case = label, formula = formula, effects = effects, floor = FLOOR,
         n = nobs(fit), k_all = length(coef(fit)), names = nm,
         params = setNames(as.list(unname(b)), nm),
         cov = lapply(covs, function(v) { dimnames(v) <- NULL; v }),
         meta = list(hand_check_max_rel_diff = checks)), extra)
}

cases <- list()
## 1. pooled OLS
f1 <- lm(y ~ price + brand, data = inv)
cases[[1]] <- make_case("inversion_ols", f1, inv, names(coef(f1)),
                        "belief ~ 1 + price + C(brand)", NULL)
## 2. persona and condition effects (dummies); compare the non-effect coefficients
f2 <- lm(y ~ price + brand + factor(persona) + factor(condition), data = inv)
keep2 <- c("price", "brandluvs", "brandpampers")
## what software that drops effects nested in the clusters from k (fixest, reghdfe) reports
X2 <- model.matrix(f2); n2 <- nrow(X2); k_all <- ncol(X2); k_nested <- k_all - 24
se_nested <- sqrt(diag(vcovCL(f2, cluster = inv$persona, type = "HC1")[keep2, keep2]) *
                    (n2 - k_all) / (n2 - k_nested))
cases[[2]] <- make_case("inversion_effects", f2, inv, keep2,
                        "belief ~ 1 + price + C(brand)", list("persona", "condition"),
                        list(cluster1_se_if_persona_effects_not_counted = setNames(as.list(se_nested), rename(keep2))))
## 3. IV: price instrumented by the cost shifter
f3 <- ivreg(y ~ price + brand | cost + brand, data = inv)
cases[[3]] <- make_case("inversion_iv", f3, inv, names(coef(f3)),
                        "belief ~ 1 + C(brand) + [price ~ cost]", NULL)
## 4. linear probability model of the Pampers belief with persona effects
f4 <- lm(s_pampers ~ log(price_pampers) + log(price_huggies) + factor(persona), data = wide)
keep4 <- c("log(price_pampers)", "log(price_huggies)")
cases[[4]] <- make_case("lpm_effects", f4, wide, keep4,
                        "s_pampers ~ 1 + np.log(price_pampers) + np.log(price_huggies)",
                        list("persona"))
cases[[4]]$data <- "wide"
for (i in 1:3) cases[[i]]$data <- "long"

out <- list(
  description = paste(
    "Berry logit inversion log(s_j/s_0) (shares floored at", FLOOR, "before the logs) on",
    "diapers_long.csv inside rows, and a linear probability model on diapers_wide.csv: lm / ivreg",
    "estimates and sandwich covariances, fixed effects as factor dummies (LSDV)."),
  generated_by = "tests/reference/linear.R",
  R_version = R.version.string,
  sandwich_version = as.character(packageVersion("sandwich")),
  AER_version = as.character(packageVersion("AER")),
  matrix_layout = "row-major lists of rows; order = names",
  cov_definitions = paste(
    "nonrobust = vcov(fit) (s^2 with n - k); HC0/HC1 = vcovHC(fit, type); cluster1 =",
    "vcovCL(fit, cluster = persona, type = 'HC1'); cluster2 = vcovCL(fit, cluster = (persona,",
    "condition), type = 'HC1', multi0 = FALSE). k = every coefficient of the dummy regression",
    "(k_all). Only the non-effect coefficients are stored (their covariance block does not depend",
    "on how the effects are normalised; the intercept does, so it is left out with effects)."),
  cases = cases)
write_json_file(out, file.path(here, "linear.json"))
cat("wrote linear.json\n")
