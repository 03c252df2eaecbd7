// Package loadtest is the broker's load harness (issue 10) and soak test
// (issue 11), run by `make bench-load` and `make soak` through the tvm-bench
// command; it is not part of `make test`.
//
// Everything runs as real processes on loopback: tvm-local (STS, the dev
// identity provider whose RSA key the harness generates, so that it can mint
// tokens in process), brokers (tvm-broker serve) in the configurations
// compared, and the baseline — a bare Echo handler that verifies the same
// RS256 token against the same JWK Set with golang-jwt and keyfunc and does
// nothing else (tvm-bench baseline, Baseline). Load comes from
// github.com/tsenart/vegeta/v12/lib in this process: at saturation (a
// closed loop of a fixed number of connections) and at a constant rate
// (an open loop, so that a slow server meets queueing rather than a lower
// offered rate). Rounds alternate between the servers so that a drift of
// the shared machine touches every server alike; the report takes the
// median of the rounds.
//
// Load goes only to loopback addresses the harness bound itself, and every
// attack is bounded in time.
//
// # Output
//
// Load writes report.txt (the ratio table, the machine, its load average
// before and after) and latency.svg (the latency distribution of each
// server at the constant rate, percentile against latency) to its output
// directory and prints the table. Soak prints and writes soak.txt: errors,
// goroutines and RSS of the broker in the first and the last 10 seconds, and
// the count of audit records against the 200 answers.
//
// # Concurrency
//
// The functions of this package are meant to be called from one goroutine
// (a command's main); they start and stop their own goroutines and
// processes.
package loadtest
