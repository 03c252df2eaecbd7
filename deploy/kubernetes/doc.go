// Package kubernetes holds no code: it is the home of the tests of the
// Kubernetes manifests, the Prometheus alert rules and the Grafana dashboard
// in this directory (see README.md), since no cluster runs where the tests do.
//
// The tests render each kustomize overlay with the kustomize library itself
// (sigs.k8s.io/kustomize/api, the code behind `kubectl apply -k`), decode
// every object strictly into its Go type (k8s.io/api, the Prometheus
// Operator's monitoring/v1, and a field-for-field copy of the cert-manager v1
// fields the manifests use) with the API server's own case-sensitive decoder
// (sigs.k8s.io/json; an unknown or duplicated field is an error), and check
// the security settings, probes, cross-references, the broker configuration
// (through broker/config.Parse) and every PromQL expression (parsed with
// Prometheus' own parser) against the broker's metrics registry.
package kubernetes
