package kubernetes

import (
	"net"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/tvmkit/tvm/broker/config"
)

const (
	configMountPath = "/etc/tvm/config"
	configKey       = "broker.yaml"
	credentialsPath = "/v1/credentials"
	// MinTokenExpiration is the API server's minimum expirationSeconds of a
	// projected service-account token.
	minTokenExpiration = 600
)

// brokerConfig is what the tests read from a broker.yaml besides handing it
// to config.Parse: only the keys tying it to the manifests.
type brokerConfig struct {
	Listen string `json:"listen"`
	Auth   struct {
		Audiences []string `json:"audiences"`
	} `json:"auth"`
	Server struct {
		AllowedHosts []string `json:"allowed_hosts"`
		TLS          struct {
			CertFile     string `json:"cert_file"`
			KeyFile      string `json:"key_file"`
			ClientAuth   string `json:"client_auth"`
			ClientCAFile string `json:"client_ca_file"`
		} `json:"tls"`
	} `json:"server"`
}

// checkWorkloads runs the checks every pod-running object gets.
func checkWorkloads(t *testing.T, m *manifests, external map[string]bool) {
	t.Helper()
	ws := workloads(m)
	if len(ws) == 0 {
		t.Fatal("no workload")
	}
	for _, w := range ws {
		var problems []string
		problems = append(problems, securityProblems(w)...)
		for _, c := range w.containers() {
			problems = append(problems, probeProblems(c)...)
		}
		problems = append(problems, envRefProblems(m, w)...)
		problems = append(problems, volumeRefProblems(m, w, external)...)
		problems = append(problems, imageProblems(w)...)
		for _, p := range problems {
			t.Errorf("%s: %s", w, p)
		}
	}
}

// brokerContainer returns the container named "broker" and checks its
// probes: liveness on /healthz, readiness on /readyz, with the scheme the
// mode serves.
func brokerContainer(t *testing.T, w workload, scheme corev1.URIScheme) corev1.Container {
	t.Helper()
	i := slices.IndexFunc(w.Spec.Containers, func(c corev1.Container) bool { return c.Name == "broker" })
	if i < 0 {
		t.Fatalf("%s: no container named broker", w)
	}
	c := w.Spec.Containers[i]
	for what, want := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{"liveness": {c.LivenessProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}} {
		switch p := want.probe; {
		case p == nil || p.HTTPGet == nil:
			t.Errorf("%s: no %s httpGet probe", w, what)
		case p.HTTPGet.Path != want.path || p.HTTPGet.Scheme != scheme:
			t.Errorf("%s: %s probe %s %s, want %s %s", w, what, p.HTTPGet.Scheme, p.HTTPGet.Path, scheme, want.path)
		}
	}
	want := []string{"tvm-broker", "serve", "--config", path.Join(configMountPath, configKey)}
	if diff := cmp.Diff(want, c.Command); diff != "" {
		t.Errorf("%s: command (-want +got):\n%s", w, diff)
	}
	return c
}

// loadBrokerConfig finds the broker.yaml mounted into the broker container,
// parses it with the broker's own loader and returns the keys the manifests
// depend on.
func loadBrokerConfig(t *testing.T, m *manifests, w workload, c corev1.Container) brokerConfig {
	t.Helper()
	i := slices.IndexFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.MountPath == configMountPath })
	if i < 0 {
		t.Fatalf("%s: nothing mounted at %s", w, configMountPath)
	}
	j := slices.IndexFunc(w.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == c.VolumeMounts[i].Name })
	if j < 0 || w.Spec.Volumes[j].ConfigMap == nil {
		t.Fatalf("%s: %s is not a ConfigMap volume", w, configMountPath)
	}
	cm := named[corev1.ConfigMap](m, w.Spec.Volumes[j].ConfigMap.Name)
	if cm == nil || cm.Data[configKey] == "" {
		t.Fatalf("%s: ConfigMap %s has no %s", w, w.Spec.Volumes[j].ConfigMap.Name, configKey)
	}
	data := []byte(cm.Data[configKey])
	if _, err := config.Parse(data, nil); err != nil {
		t.Fatalf("%s: %s does not load: %v", cm.Name, configKey, err)
	}
	var bc brokerConfig
	if err := yaml.Unmarshal(data, &bc); err != nil {
		t.Fatal(err)
	}
	return bc
}

func listenPort(t *testing.T, listen string) (string, int32) {
	t.Helper()
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatalf("listen %q: %v", listen, err)
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		t.Fatalf("listen %q: %v", listen, err)
	}
	return host, int32(n)
}

func requireKinds(t *testing.T, m *manifests, want map[string]int) {
	t.Helper()
	if diff := cmp.Diff(want, m.kindCounts()); diff != "" {
		t.Errorf("%s: objects by kind (-want +got):\n%s", m.source, diff)
	}
}

func requireNamespace(t *testing.T, m *manifests, ns string) {
	t.Helper()
	for _, o := range m.objs {
		if o.Kind == "Namespace" {
			if o.Name != ns {
				t.Errorf("Namespace %s, want %s", o.Name, ns)
			}
		} else if o.Namespace != ns {
			t.Errorf("%s %s: namespace %q, want %q", o.Kind, o.Name, o.Namespace, ns)
		}
	}
}

func TestSharedMode(t *testing.T) {
	m := render(t, "overlays/shared")
	requireKinds(t, m, map[string]int{
		"Namespace": 1, "ServiceAccount": 1, "ConfigMap": 2, "Deployment": 1, "Service": 1,
		"PodDisruptionBudget": 1, "HorizontalPodAutoscaler": 1, "NetworkPolicy": 1,
		"Certificate": 2, "Issuer": 2, "ServiceMonitor": 1, "PrometheusRule": 1,
	})
	requireNamespace(t, m, "tvm")
	checkWorkloads(t, m, nil)

	d := all[appsv1.Deployment](m)[0]
	w := workload{"Deployment", d.Name, d.Spec.Template.Labels, &d.Spec.Template.Spec}
	c := brokerContainer(t, w, corev1.URISchemeHTTPS)
	bc := loadBrokerConfig(t, m, w, c)
	if _, port := listenPort(t, bc.Listen); !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
		return p.ContainerPort == port && p.Name == "https"
	}) {
		t.Errorf("listen %s is not the container port named https", bc.Listen)
	}
	checkTLSFiles(t, c, bc)
	checkDeployment(t, d)
	checkDisruptionAndScaling(t, m, d)
	svc := checkService(t, m, w)
	checkNetworkPolicy(t, m, w)
	checkCertificates(t, m, w, svc)
	checkServiceMonitor(t, m, svc)
}

func checkDeployment(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("Deployment replicas %v, want at least 2", d.Spec.Replicas)
	}
	if !selects(d.Spec.Selector, d.Spec.Template.Labels) {
		t.Error("Deployment selector does not select its pods")
	}
	keys := map[string]bool{}
	for _, tsc := range d.Spec.Template.Spec.TopologySpreadConstraints {
		keys[tsc.TopologyKey] = true
		if !selects(tsc.LabelSelector, d.Spec.Template.Labels) {
			t.Errorf("topology spread on %s does not select the broker pods", tsc.TopologyKey)
		}
	}
	for _, k := range []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"} {
		if !keys[k] {
			t.Errorf("no topology spread constraint on %s", k)
		}
	}
}

func checkDisruptionAndScaling(t *testing.T, m *manifests, d *appsv1.Deployment) {
	t.Helper()
	pdb := all[policyv1.PodDisruptionBudget](m)[0]
	if !selects(pdb.Spec.Selector, d.Spec.Template.Labels) {
		t.Error("PodDisruptionBudget does not select the broker pods")
	}
	if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
		t.Error("PodDisruptionBudget sets neither maxUnavailable nor minAvailable")
	}
	hpa := all[autoscalingv2.HorizontalPodAutoscaler](m)[0]
	ref := hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != d.Name {
		t.Errorf("HPA targets %s %s %s, want apps/v1 Deployment %s", ref.APIVersion, ref.Kind, ref.Name, d.Name)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		t.Errorf("HPA replicas %v..%d, want at least 2 and max >= min", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
	if len(hpa.Spec.Metrics) == 0 {
		t.Error("HPA has no metric")
	}
}

func checkService(t *testing.T, m *manifests, w workload) *corev1.Service {
	t.Helper()
	svc := all[corev1.Service](m)[0]
	if !selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, w.Labels) {
		t.Error("Service does not select the broker pods")
	}
	for _, p := range svc.Spec.Ports {
		cp, ok := podPort(w.Spec, p.TargetPort)
		if !ok {
			t.Errorf("Service port %s: targetPort %s is not a broker container port", p.Name, p.TargetPort.String())
		}
		if p.Name != "https" || p.Port != 443 || cp.Name != "https" {
			t.Errorf("Service port %s %d -> %s, want https 443 -> the https container port", p.Name, p.Port, cp.Name)
		}
	}
	return svc
}

func checkNetworkPolicy(t *testing.T, m *manifests, w workload) {
	t.Helper()
	np := all[networkingv1.NetworkPolicy](m)[0]
	if !selects(&np.Spec.PodSelector, w.Labels) {
		t.Error("NetworkPolicy does not select the broker pods")
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Errorf("NetworkPolicy policyTypes %v, want Ingress and Egress", np.Spec.PolicyTypes)
	}
	for _, r := range np.Spec.Ingress {
		if len(r.From) == 0 {
			t.Error("an ingress rule admits every source")
		}
		for _, p := range r.Ports {
			if _, ok := podPort(w.Spec, *p.Port); !ok {
				t.Errorf("ingress port %s is not a broker container port", p.Port.String())
			}
		}
	}
	egress := map[string]bool{}
	for _, r := range np.Spec.Egress {
		for _, p := range r.Ports {
			egress[string(*p.Protocol)+"/"+p.Port.String()] = true
		}
	}
	for _, want := range []string{"UDP/53", "TCP/53", "TCP/443"} {
		if !egress[want] {
			t.Errorf("no egress rule for %s (have %v)", want, sortedKeys(egress))
		}
	}
}

// checkTLSFiles: the shared broker serves https (server.tls set) from the
// tls.crt and tls.key that cert-manager writes into the Secret mounted as
// the volume "tls", and does not require client certificates, which the
// kubelet's httpGet probes do not present.
func checkTLSFiles(t *testing.T, c corev1.Container, bc brokerConfig) {
	t.Helper()
	tls := bc.Server.TLS
	if tls.CertFile == "" || tls.KeyFile == "" {
		t.Fatalf("server.tls: cert_file %q, key_file %q; the shared broker must serve https", tls.CertFile, tls.KeyFile)
	}
	i := slices.IndexFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.Name == "tls" })
	if i < 0 {
		t.Fatal("the broker container does not mount the tls volume")
	}
	dir := c.VolumeMounts[i].MountPath
	for file, want := range map[string]string{tls.CertFile: path.Join(dir, "tls.crt"), tls.KeyFile: path.Join(dir, "tls.key")} {
		if file != want {
			t.Errorf("server.tls file %s, want %s (the Secret's key in the tls volume)", file, want)
		}
	}
	if tls.ClientAuth == "require" {
		t.Error("server.tls.client_auth require: the kubelet's httpGet probes present no client certificate")
	}
	if tls.ClientCAFile != "" && !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool {
		return strings.HasPrefix(tls.ClientCAFile, vm.MountPath+"/")
	}) {
		t.Errorf("server.tls.client_ca_file %s is in no mounted volume", tls.ClientCAFile)
	}
}

// checkCertificates: the broker's TLS Secret is written by a Certificate
// whose names cover the Service, issued by an Issuer of the manifests.
func checkCertificates(t *testing.T, m *manifests, w workload, svc *corev1.Service) {
	t.Helper()
	i := slices.IndexFunc(w.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == "tls" })
	if i < 0 || w.Spec.Volumes[i].Secret == nil {
		t.Fatal("the broker has no Secret volume named tls")
	}
	var serving *Certificate
	for _, c := range all[Certificate](m) {
		if named[Issuer](m, c.Spec.IssuerRef.Name) == nil || c.Spec.IssuerRef.Kind != "Issuer" {
			t.Errorf("Certificate %s: issuer %s %s not in the manifests", c.Name, c.Spec.IssuerRef.Kind, c.Spec.IssuerRef.Name)
		}
		if c.Spec.SecretName == w.Spec.Volumes[i].Secret.SecretName {
			serving = c
		}
	}
	for _, is := range all[Issuer](m) {
		if is.Spec.CA != nil && !secretExists(m, is.Spec.CA.SecretName) {
			t.Errorf("Issuer %s: CA Secret %s is written by no Certificate", is.Name, is.Spec.CA.SecretName)
		}
	}
	if serving == nil {
		t.Fatalf("no Certificate writes the broker's Secret %s", w.Spec.Volumes[i].Secret.SecretName)
	}
	if serving.Spec.IsCA {
		t.Error("the serving certificate is a CA")
	}
	for _, name := range []string{svc.Name + "." + svc.Namespace + ".svc", svc.Name + "." + svc.Namespace + ".svc.cluster.local"} {
		if !slices.Contains(serving.Spec.DNSNames, name) {
			t.Errorf("serving certificate lacks %s (has %v)", name, serving.Spec.DNSNames)
		}
	}
}

func checkServiceMonitor(t *testing.T, m *manifests, svc *corev1.Service) {
	t.Helper()
	sm := all[monitoringv1.ServiceMonitor](m)[0]
	if !selects(&sm.Spec.Selector, svc.Labels) {
		t.Error("ServiceMonitor does not select the broker Service")
	}
	for _, ep := range sm.Spec.Endpoints {
		if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
			t.Errorf("ServiceMonitor port %q is not a Service port", ep.Port)
		}
		if ep.Path != "/metrics" || ep.Scheme == nil || ep.Scheme.String() != "https" {
			t.Errorf("ServiceMonitor scrapes %v %s, want https /metrics", ep.Scheme, ep.Path)
		}
		tls := ep.TLSConfig
		if tls == nil || tls.CA.Secret == nil || tls.ServerName == nil {
			t.Fatal("ServiceMonitor endpoint does not verify the broker's certificate")
		}
		if !secretExists(m, tls.CA.Secret.Name) || tls.CA.Secret.Key != "ca.crt" {
			t.Errorf("ServiceMonitor CA %s/%s is not a cert-manager Secret's ca.crt", tls.CA.Secret.Name, tls.CA.Secret.Key)
		}
		cert := slices.IndexFunc(all[Certificate](m), func(c *Certificate) bool {
			return c.Spec.SecretName == tls.CA.Secret.Name && slices.Contains(c.Spec.DNSNames, *tls.ServerName)
		})
		if cert < 0 {
			t.Errorf("ServiceMonitor serverName %s is not a name of the certificate in %s", *tls.ServerName, tls.CA.Secret.Name)
		}
		if tls.InsecureSkipVerify != nil && *tls.InsecureSkipVerify {
			t.Error("ServiceMonitor skips certificate verification")
		}
	}
}

func TestNodeLocalMode(t *testing.T) {
	m := render(t, "overlays/node-local")
	requireKinds(t, m, map[string]int{"Namespace": 1, "ServiceAccount": 1, "ConfigMap": 1, "DaemonSet": 1})
	requireNamespace(t, m, "tvm-node")
	checkWorkloads(t, m, nil)

	ds := all[appsv1.DaemonSet](m)[0]
	w := workload{"DaemonSet", ds.Name, ds.Spec.Template.Labels, &ds.Spec.Template.Spec}
	if !selects(ds.Spec.Selector, w.Labels) {
		t.Error("DaemonSet selector does not select its pods")
	}
	if !w.Spec.HostNetwork || w.Spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork %v, dnsPolicy %s; want true, ClusterFirstWithHostNet", w.Spec.HostNetwork, w.Spec.DNSPolicy)
	}
	c := brokerContainer(t, w, corev1.URISchemeHTTP)
	bc := loadBrokerConfig(t, m, w, c)
	host, port := listenPort(t, bc.Listen)
	if host != nodeLocalAddress {
		t.Errorf("listen %s, want the link-local address %s", bc.Listen, nodeLocalAddress)
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == port && p.HostPort == port }) {
		t.Errorf("listen port %d is not a container port with the same hostPort", port)
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p != nil && p.HTTPGet.Host != host {
			t.Errorf("probe %s on host %q: the broker listens on %s only", p.HTTPGet.Path, p.HTTPGet.Host, host)
		}
	}
	if !slices.Contains(bc.Server.AllowedHosts, host) {
		t.Errorf("server.allowed_hosts %v does not admit %s (the probes' and clients' Host)", bc.Server.AllowedHosts, host)
	}
	if bc.Server.TLS.CertFile != "" || bc.Server.TLS.KeyFile != "" {
		t.Error("node-local broker serves https: the probes are http and the SDKs take plain http to the link-local address")
	}
	init := w.Spec.InitContainers
	if len(init) != 1 || !strings.Contains(strings.Join(init[0].Command, " "), "ip addr add "+nodeLocalAddress+"/32 dev lo") {
		t.Errorf("the init container does not add %s/32 to lo: %v", nodeLocalAddress, init)
	}
}

// nodeLocalAddress is the ECS container-credentials address, accepted over
// plain http by every SDK that reads AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
// and free on EKS, whose Pod Identity Agent holds 169.254.170.23.
const nodeLocalAddress = "169.254.170.2"

// TestBrokerConfigsAgree: the node-local broker.yaml is the shared one but
// for listen and server (one identity and profile configuration).
func TestBrokerConfigsAgree(t *testing.T) {
	read := func(p string) map[string]any {
		var v map[string]any
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict(data, &v); err != nil {
			t.Fatal(err)
		}
		delete(v, "listen")
		delete(v, "server")
		return v
	}
	shared, nodeLocal := read("base/broker.yaml"), read("overlays/node-local/broker.yaml")
	if diff := cmp.Diff(shared, nodeLocal); diff != "" {
		t.Errorf("broker.yaml of the two modes differ beyond listen and server (-shared +node-local):\n%s", diff)
	}
	if shared["auth"] == nil || shared["profiles"] == nil {
		t.Error("broker.yaml has no auth or profiles section")
	}
}

// TestClientExamples: the client pods are hardened like the broker, their
// token volume is projected for the broker's audience, and their
// container-credentials URL reaches the broker of their mode.
func TestClientExamples(t *testing.T) {
	tests := map[string]struct {
		file, overlay string
		external      map[string]bool
		check         func(t *testing.T, modes *manifests, u *url.URL)
	}{
		"shared": {
			file: "examples/client-shared.yaml", overlay: "overlays/shared",
			external: map[string]bool{"ConfigMap/tvm-broker-ca": true, "ServiceAccount/default": true},
			check:    checkSharedURL,
		},
		"node-local": {
			file: "examples/client-node-local.yaml", overlay: "overlays/node-local",
			external: map[string]bool{"ServiceAccount/default": true},
			check:    checkNodeLocalURL,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			client := load(t, tc.file)
			requireKinds(t, client, map[string]int{"Pod": 1})
			checkWorkloads(t, client, tc.external)
			mode := render(t, tc.overlay)
			w := workloads(client)[0]
			env := map[string]string{}
			for _, e := range w.Spec.Containers[0].Env {
				env[e.Name] = e.Value
			}
			checkTokenFile(t, mode, w, env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"])
			u, err := url.Parse(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
			if err != nil || u.Path != credentialsPath {
				t.Fatalf("AWS_CONTAINER_CREDENTIALS_FULL_URI %q: %v, want path %s", env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], err, credentialsPath)
			}
			tc.check(t, mode, u)
		})
	}
}

// checkTokenFile: the token file is a projected service-account token for
// an audience the broker accepts, living at least the API server's minimum.
func checkTokenFile(t *testing.T, mode *manifests, w workload, file string) {
	t.Helper()
	dir, base := path.Split(file)
	vm := slices.IndexFunc(w.Spec.Containers[0].VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.MountPath+"/" == dir })
	if vm < 0 {
		t.Fatalf("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %q: no volume mounted at %s", file, dir)
	}
	vi := slices.IndexFunc(w.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == w.Spec.Containers[0].VolumeMounts[vm].Name })
	var proj *corev1.ServiceAccountTokenProjection
	if v := w.Spec.Volumes[vi]; v.Projected != nil {
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil && s.ServiceAccountToken.Path == base {
				proj = s.ServiceAccountToken
			}
		}
	}
	if proj == nil {
		t.Fatalf("%s is not a projected service-account token", file)
	}
	ws := workloads(mode)
	bc := loadBrokerConfig(t, mode, ws[0], brokerContainer(t, ws[0], probeScheme(ws[0])))
	if !slices.Contains(bc.Auth.Audiences, proj.Audience) {
		t.Errorf("token audience %q is not one of the broker's %v", proj.Audience, bc.Auth.Audiences)
	}
	if proj.ExpirationSeconds == nil || *proj.ExpirationSeconds < minTokenExpiration {
		t.Errorf("expirationSeconds %v, want at least %d", proj.ExpirationSeconds, minTokenExpiration)
	}
}

func probeScheme(w workload) corev1.URIScheme {
	if w.Spec.HostNetwork {
		return corev1.URISchemeHTTP
	}
	return corev1.URISchemeHTTPS
}

func checkSharedURL(t *testing.T, mode *manifests, u *url.URL) {
	t.Helper()
	svc := all[corev1.Service](mode)[0]
	if u.Scheme != "https" || u.Hostname() != svc.Name+"."+svc.Namespace+".svc" {
		t.Errorf("URL %s, want https://%s.%s.svc", u, svc.Name, svc.Namespace)
	}
	port := int32(443)
	if u.Port() != "" {
		n, _ := strconv.Atoi(u.Port())
		port = int32(n)
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == port }) {
		t.Errorf("URL port %d is not a port of Service %s", port, svc.Name)
	}
	if !slices.ContainsFunc(all[Certificate](mode), func(c *Certificate) bool { return slices.Contains(c.Spec.DNSNames, u.Hostname()) }) {
		t.Errorf("no certificate names %s", u.Hostname())
	}
}

func checkNodeLocalURL(t *testing.T, mode *manifests, u *url.URL) {
	t.Helper()
	ds := all[appsv1.DaemonSet](mode)[0]
	w := workload{"DaemonSet", ds.Name, ds.Spec.Template.Labels, &ds.Spec.Template.Spec}
	bc := loadBrokerConfig(t, mode, w, brokerContainer(t, w, corev1.URISchemeHTTP))
	if u.Scheme != "http" || u.Host != bc.Listen {
		t.Errorf("URL %s, want http://%s", u, bc.Listen)
	}
}
