// Package loadtest sends HTTP load with vegeta
// (github.com/tsenart/vegeta/v12/lib) and measures what it did. It has two
// users, on one attack core (attack.go: fire sends an attack, a tally
// counts it):
//
//   - Run sends one or more open-loop streams, each at a constant rate from
//     its own source addresses, together for a duration, and summarizes
//     each (Summary). The broker's pre-auth limit measurement uses it
//     (docs/operations.md). A stream's source address (Stream.Source, e.g.
//     127.0.0.2) is the local address its connections bind to, so that a
//     server sees distinct clients on one machine (Linux routes all of
//     127.0.0.0/8 to the loopback).
//   - Load and Soak are the broker's load harness (issue 10) and soak test
//     (issue 11), run by `make bench-load` and `make soak` through the
//     tvm-bench command; they are not part of `make test`.
//
// Load and Soak run everything as real processes on loopback: tvm-local
// (STS, the dev identity provider whose RSA key the harness generates, so
// that it can mint tokens in process), brokers (tvm-broker serve) in the
// configurations compared, and the baseline — a bare Echo handler that
// verifies the same RS256 token against the same JWK Set with golang-jwt
// and keyfunc and does nothing else (tvm-bench baseline, Baseline). Load
// comes from this process: at saturation (a closed loop of a fixed number
// of connections) and at a constant rate (an open loop, so that a slow
// server meets queueing rather than a lower offered rate). Rounds
// alternate between the servers so that a drift of the shared machine
// touches every server alike; the report takes the median of the rounds.
// Every server binds port 0 and reports the address it bound (its "ready"
// log line), so no port is picked in advance.
//
// Load goes only to loopback addresses the harness started servers on, and
// every attack is bounded in time or in requests.
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
// Run runs every stream's attackers on their own goroutines and returns
// when all are done (or ctx ends: the attacks stop); summaries are values.
// Load and Soak are meant to be called from one goroutine (a command's
// main); they start and stop their own goroutines and processes.
package loadtest
