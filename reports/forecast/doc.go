// Package forecast owns Flowlake's forecasting math: additive exponential
// smoothing (Holt-Winters / ETS with no, additive or damped trend and one or
// two seasonal periods, e.g. daily and weekly for hourly traffic), on the
// values or, for a positive series, on their logarithm, parameters
// fitted by Nelder-Mead on one-step-ahead squared errors, prediction
// intervals, model choice by AICc on the whole history (as R's
// forecast::ets), a seasonal-naive fallback for short
// history, backtests (MASE, interval coverage) and the date a forecast
// crosses a capacity threshold.
//
// It does no I/O and imports only the standard library and gonum, so reports,
// alerts and jobs can all use it on series they assembled through the query
// engine. Functions hold no state between calls and are safe for concurrent
// use. docs/forecast.md describes the models and the backtest results.
package forecast
