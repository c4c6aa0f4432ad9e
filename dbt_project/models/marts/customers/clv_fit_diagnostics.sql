-- Fit diagnostics of the CLV models for the evaluation: one row per model
-- (bg_nbd, gamma_gamma) with parameters, log-likelihood, AIC, convergence
-- (a degenerate fit says why) and the number of customers the fit used.

select
    model_name,
    as_of_date,
    fit_status,
    is_converged,
    degenerate_reason,
    n_customers,
    log_likelihood,
    aic,
    iterations,
    optimizer_message,
    parameters_json,
    param_r,
    param_alpha,
    param_a,
    param_b,
    param_p,
    param_q,
    param_v,
    frequency_monetary_correlation
from {{ ref('int_clv_models_fitted') }}
