package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Certificate and Issuer are the cert-manager.io/v1 fields the manifests
// use, with cert-manager's JSON names (cert-manager's own module is large
// and not needed for that): decoding strictly into them catches a misspelt
// or misplaced field just as the typed Kubernetes objects do.
type Certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName  string   `json:"secretName"`
		IsCA        bool     `json:"isCA,omitempty"`
		CommonName  string   `json:"commonName,omitempty"`
		DNSNames    []string `json:"dnsNames,omitempty"`
		Duration    string   `json:"duration,omitempty"`
		RenewBefore string   `json:"renewBefore,omitempty"`
		Usages      []string `json:"usages,omitempty"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm,omitempty"`
			Size           int    `json:"size,omitempty"`
			Encoding       string `json:"encoding,omitempty"`
			RotationPolicy string `json:"rotationPolicy,omitempty"`
		} `json:"privateKey,omitempty"`
		IssuerRef struct {
			Name  string `json:"name"`
			Kind  string `json:"kind,omitempty"`
			Group string `json:"group,omitempty"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

// Issuer is a cert-manager.io/v1 Issuer with the two issuer types used.
type Issuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SelfSigned *struct{} `json:"selfSigned,omitempty"`
		CA         *struct {
			SecretName string `json:"secretName"`
		} `json:"ca,omitempty"`
	} `json:"spec"`
}

// kinds maps apiVersion/kind to the Go type a manifest decodes into. A kind
// missing here fails the test: every manifest is checked.
var kinds = map[string]func() any{
	"v1/Namespace":                            func() any { return new(corev1.Namespace) },
	"v1/ServiceAccount":                       func() any { return new(corev1.ServiceAccount) },
	"v1/ConfigMap":                            func() any { return new(corev1.ConfigMap) },
	"v1/Secret":                               func() any { return new(corev1.Secret) },
	"v1/Service":                              func() any { return new(corev1.Service) },
	"v1/Pod":                                  func() any { return new(corev1.Pod) },
	"apps/v1/Deployment":                      func() any { return new(appsv1.Deployment) },
	"apps/v1/DaemonSet":                       func() any { return new(appsv1.DaemonSet) },
	"policy/v1/PodDisruptionBudget":           func() any { return new(policyv1.PodDisruptionBudget) },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return new(networkingv1.NetworkPolicy) },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return new(monitoringv1.ServiceMonitor) },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return new(monitoringv1.PrometheusRule) },
	"cert-manager.io/v1/Certificate":          func() any { return new(Certificate) },
	"cert-manager.io/v1/Issuer":               func() any { return new(Issuer) },
}

// object is one manifest decoded into its Go type.
type object struct {
	Kind, Name, Namespace string
	Obj                   any
}

// manifests is one rendered overlay or file set.
type manifests struct {
	source string
	objs   []object
}

// decodeStrict decodes JSON into v with the API server's decoder: field
// names are case-sensitive, and unknown or duplicated fields are errors.
func decodeStrict(data []byte, v any) error {
	strict, err := sigsjson.UnmarshalStrict(data, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// decodeObject decodes one manifest (JSON) into its registered type.
func decodeObject(data []byte) (object, error) {
	var meta struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(data, &meta); err != nil {
		return object{}, err
	}
	newObj := kinds[meta.APIVersion+"/"+meta.Kind]
	if newObj == nil {
		return object{}, fmt.Errorf("%s %s %q: no Go type registered for this kind", meta.APIVersion, meta.Kind, meta.Metadata.Name)
	}
	obj := newObj()
	if err := decodeStrict(data, obj); err != nil {
		return object{}, fmt.Errorf("%s %q: %w", meta.Kind, meta.Metadata.Name, err)
	}
	return object{Kind: meta.Kind, Name: meta.Metadata.Name, Namespace: meta.Metadata.Namespace, Obj: obj}, nil
}

// render builds a kustomization directory with the kustomize library (what
// `kubectl apply -k` runs) and decodes every resulting object strictly.
func render(t *testing.T, dir string) *manifests {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	m := &manifests{source: dir}
	for _, r := range resMap.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		m.add(t, y)
	}
	return m
}

// load decodes every YAML document of the files matching pattern.
func load(t *testing.T, pattern string) *manifests {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no file matches %s (%v)", pattern, err)
	}
	m := &manifests{source: pattern}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(data, []byte("\n---\n")) {
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			m.add(t, doc)
		}
	}
	return m
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

func (m *manifests) add(t *testing.T, doc []byte) {
	t.Helper()
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		t.Fatalf("%s: %v", m.source, err)
	}
	o, err := decodeObject(j)
	if err != nil {
		t.Fatalf("%s: %v", m.source, err)
	}
	m.objs = append(m.objs, o)
}

// all returns the objects of type T.
func all[T any](m *manifests) []*T {
	var out []*T
	for _, o := range m.objs {
		if v, ok := o.Obj.(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

// named returns the object of type T with the given name, or nil.
func named[T any](m *manifests, name string) *T {
	for _, o := range m.objs {
		if v, ok := o.Obj.(*T); ok && o.Name == name {
			return v
		}
	}
	return nil
}

// kindCounts returns "Kind" -> number of objects, for the inventory check.
func (m *manifests) kindCounts() map[string]int {
	c := map[string]int{}
	for _, o := range m.objs {
		c[o.Kind]++
	}
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestDecodeStrictRefusesWhatTheAPIServerWould(t *testing.T) {
	tests := map[string]struct {
		doc     string
		wantErr string
	}{
		"unknown field": {
			doc:     "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\nautomountServiceAccountTokens: false\n",
			wantErr: `unknown field "automountServiceAccountTokens"`,
		},
		"wrong case": {
			doc: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n" +
				"      containers: [{name: c, securityContext: {readOnlyRootFileSystem: true}}]\n",
			wantErr: `unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"`,
		},
		"misplaced field": {
			doc:     "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {selector: {a: b}}\nports: []\n",
			wantErr: `unknown field "ports"`,
		},
		"unregistered kind": {
			doc:     "apiVersion: batch/v1\nkind: Job\nmetadata: {name: a}\n",
			wantErr: "no Go type registered",
		},
		"cert-manager typo": {
			doc:     "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: a}\nspec: {secretName: s, dnsName: [x], issuerRef: {name: i}}\n",
			wantErr: `unknown field "spec.dnsName"`,
		},
		"monitoring typo": {
			doc:     "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: a}\nspec: {selector: {}, endpoints: [{port: x, tlsconfig: {}}]}\n",
			wantErr: `unknown field "spec.endpoints[0].tlsconfig"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			j, err := yaml.YAMLToJSONStrict([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			_, err = decodeObject(j)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
