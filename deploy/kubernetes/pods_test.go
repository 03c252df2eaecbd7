package kubernetes

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// workload is anything that runs pods: a Deployment, a DaemonSet or a Pod.
type workload struct {
	Kind, Name string
	Labels     map[string]string // the pods' labels
	Spec       *corev1.PodSpec
}

func workloads(m *manifests) []workload {
	var out []workload
	for _, d := range all[appsv1.Deployment](m) {
		out = append(out, workload{"Deployment", d.Name, d.Spec.Template.Labels, &d.Spec.Template.Spec})
	}
	for _, d := range all[appsv1.DaemonSet](m) {
		out = append(out, workload{"DaemonSet", d.Name, d.Spec.Template.Labels, &d.Spec.Template.Spec})
	}
	for _, p := range all[corev1.Pod](m) {
		out = append(out, workload{"Pod", p.Name, p.Labels, &p.Spec})
	}
	return out
}

func (w workload) String() string { return w.Kind + " " + w.Name }

func (w workload) containers() []corev1.Container {
	return append(slices.Clone(w.Spec.InitContainers), w.Spec.Containers...)
}

// rootException is the one container allowed to run as root with a
// capability: the node-local DaemonSet's init container that puts the
// link-local address on the node, with NET_ADMIN and nothing else.
func rootException(w workload, c corev1.Container) bool {
	return w.Kind == "DaemonSet" && c.Name == "link-local-address" && slices.ContainsFunc(w.Spec.InitContainers,
		func(ic corev1.Container) bool { return ic.Name == c.Name })
}

// securityProblems lists what violates the hardening every pod must have:
// non-root, read-only root filesystem, no privilege escalation, all
// capabilities dropped, seccomp RuntimeDefault, resources, no host
// namespaces (hostNetwork only for the node-local DaemonSet).
func securityProblems(w workload) []string {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	s := w.Spec
	if s.HostPID || s.HostIPC {
		bad("hostPID/hostIPC")
	}
	if s.HostNetwork && w.Kind != "DaemonSet" {
		bad("hostNetwork outside the node-local DaemonSet")
	}
	if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
		bad("automountServiceAccountToken is not false")
	}
	podSC := s.SecurityContext
	if podSC == nil {
		podSC = &corev1.PodSecurityContext{}
	}
	for _, c := range w.containers() {
		sc := c.SecurityContext
		if sc == nil {
			bad("container %s: no securityContext", c.Name)
			continue
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			bad("container %s: allowPrivilegeEscalation is not false", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			bad("container %s: readOnlyRootFilesystem is not true", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			bad("container %s: privileged", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			bad("container %s: capabilities do not drop ALL", c.Name)
		}
		if !seccompRuntimeDefault(sc.SeccompProfile, podSC.SeccompProfile) {
			bad("container %s: seccomp profile is not RuntimeDefault", c.Name)
		}
		p = append(p, userProblems(w, c, podSC)...)
		p = append(p, resourceProblems(c)...)
	}
	return p
}

func seccompRuntimeDefault(container, pod *corev1.SeccompProfile) bool {
	if container != nil {
		return container.Type == corev1.SeccompProfileTypeRuntimeDefault
	}
	return pod != nil && pod.Type == corev1.SeccompProfileTypeRuntimeDefault
}

// userProblems checks non-root (effective: container over pod settings) and
// added capabilities, with the one documented root exception.
func userProblems(w workload, c corev1.Container, podSC *corev1.PodSecurityContext) []string {
	sc := c.SecurityContext
	var added []corev1.Capability
	if sc.Capabilities != nil {
		added = sc.Capabilities.Add
	}
	if rootException(w, c) {
		if !slices.Equal(added, []corev1.Capability{"NET_ADMIN"}) {
			return []string{fmt.Sprintf("container %s: adds %v, want exactly [NET_ADMIN]", c.Name, added)}
		}
		return nil
	}
	var p []string
	if len(added) > 0 {
		p = append(p, fmt.Sprintf("container %s: adds capabilities %v", c.Name, added))
	}
	nonRoot := podSC.RunAsNonRoot
	if sc.RunAsNonRoot != nil {
		nonRoot = sc.RunAsNonRoot
	}
	user := podSC.RunAsUser
	if sc.RunAsUser != nil {
		user = sc.RunAsUser
	}
	if nonRoot == nil || !*nonRoot {
		p = append(p, fmt.Sprintf("container %s: runAsNonRoot is not true", c.Name))
	}
	if user != nil && *user == 0 {
		p = append(p, fmt.Sprintf("container %s: runs as user 0", c.Name))
	}
	return p
}

func resourceProblems(c corev1.Container) []string {
	var p []string
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			p = append(p, fmt.Sprintf("container %s: no %s request", c.Name, r))
		}
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || q.IsZero() {
		p = append(p, fmt.Sprintf("container %s: no memory limit", c.Name))
	}
	return p
}

// containerPort resolves a port reference (a name or a number) against a
// container's ports.
func containerPort(c corev1.Container, ref intstr.IntOrString) (corev1.ContainerPort, bool) {
	for _, p := range c.Ports {
		if ref.Type == intstr.String && p.Name == ref.StrVal || ref.Type == intstr.Int && p.ContainerPort == ref.IntVal {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}

// podPort resolves a port reference against every container of a pod.
func podPort(s *corev1.PodSpec, ref intstr.IntOrString) (corev1.ContainerPort, bool) {
	for _, c := range s.Containers {
		if p, ok := containerPort(c, ref); ok {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}

func probeProblems(c corev1.Container) []string {
	var p []string
	for what, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if pr == nil || pr.HTTPGet == nil {
			continue
		}
		if _, ok := containerPort(c, pr.HTTPGet.Port); !ok {
			p = append(p, fmt.Sprintf("container %s: %s probe port %s is not a container port", c.Name, what, pr.HTTPGet.Port.String()))
		}
	}
	return p
}

// selects reports whether a label selector selects the given labels; an
// empty or invalid selector selects nothing here (the manifests never mean
// "everything").
func selects(sel *metav1.LabelSelector, set map[string]string) bool {
	if sel == nil || len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(set))
}

// envRefProblems checks that every env var reference of every container
// resolves: ConfigMap and Secret keys within the manifests (a Secret may be
// one a cert-manager Certificate writes), resourceFieldRef containers and
// their resources.
func envRefProblems(m *manifests, w workload) []string {
	var p []string
	for _, c := range w.containers() {
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			switch vf := e.ValueFrom; {
			case vf.ConfigMapKeyRef != nil:
				cm := named[corev1.ConfigMap](m, vf.ConfigMapKeyRef.Name)
				if cm == nil || cm.Data[vf.ConfigMapKeyRef.Key] == "" {
					p = append(p, fmt.Sprintf("env %s: ConfigMap %s key %s not found", e.Name, vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key))
				}
			case vf.SecretKeyRef != nil:
				if !secretExists(m, vf.SecretKeyRef.Name) {
					p = append(p, fmt.Sprintf("env %s: Secret %s not found", e.Name, vf.SecretKeyRef.Name))
				}
			case vf.ResourceFieldRef != nil:
				p = append(p, resourceFieldProblems(w, c, e.Name, vf.ResourceFieldRef)...)
			}
		}
	}
	return p
}

func resourceFieldProblems(w workload, self corev1.Container, env string, ref *corev1.ResourceFieldSelector) []string {
	target := self
	if ref.ContainerName != "" {
		i := slices.IndexFunc(w.containers(), func(c corev1.Container) bool { return c.Name == ref.ContainerName })
		if i < 0 {
			return []string{fmt.Sprintf("env %s: resourceFieldRef container %s does not exist", env, ref.ContainerName)}
		}
		target = w.containers()[i]
	}
	kind, res, _ := strings.Cut(ref.Resource, ".")
	list := target.Resources.Requests
	if kind == "limits" {
		list = target.Resources.Limits
	}
	if _, ok := list[corev1.ResourceName(res)]; !ok {
		return []string{fmt.Sprintf("env %s: container %s sets no %s", env, target.Name, ref.Resource)}
	}
	return nil
}

// secretExists reports whether a Secret is in the manifests or written by
// one of their cert-manager Certificates.
func secretExists(m *manifests, name string) bool {
	if named[corev1.Secret](m, name) != nil {
		return true
	}
	return slices.ContainsFunc(all[Certificate](m), func(c *Certificate) bool { return c.Spec.SecretName == name })
}

// volumeRefProblems checks volume mounts against volumes, and ConfigMap,
// Secret and ServiceAccount references against the manifests; external
// names the user creates (documented in the README) are passed in.
func volumeRefProblems(m *manifests, w workload, external map[string]bool) []string {
	var p []string
	vols := map[string]corev1.Volume{}
	for _, v := range w.Spec.Volumes {
		vols[v.Name] = v
		switch {
		case v.ConfigMap != nil:
			if named[corev1.ConfigMap](m, v.ConfigMap.Name) == nil && !external["ConfigMap/"+v.ConfigMap.Name] {
				p = append(p, fmt.Sprintf("volume %s: ConfigMap %s not found", v.Name, v.ConfigMap.Name))
			}
		case v.Secret != nil:
			if !secretExists(m, v.Secret.SecretName) && !external["Secret/"+v.Secret.SecretName] {
				p = append(p, fmt.Sprintf("volume %s: Secret %s not found", v.Name, v.Secret.SecretName))
			}
		}
	}
	for _, c := range w.containers() {
		for _, vm := range c.VolumeMounts {
			if _, ok := vols[vm.Name]; !ok {
				p = append(p, fmt.Sprintf("container %s: mounts volume %s, which does not exist", c.Name, vm.Name))
			}
		}
	}
	sa := w.Spec.ServiceAccountName
	if sa != "" && named[corev1.ServiceAccount](m, sa) == nil && !external["ServiceAccount/"+sa] {
		p = append(p, fmt.Sprintf("serviceAccountName %s not found", sa))
	}
	return p
}

// imageProblems refuses the placeholder names of the bases: every image is
// set to a registry path with a tag (or digest) by the overlay.
func imageProblems(w workload) []string {
	var p []string
	for _, c := range w.containers() {
		last := c.Image[strings.LastIndex(c.Image, "/")+1:]
		if !strings.Contains(last, ":") && !strings.Contains(c.Image, "@sha256:") {
			p = append(p, fmt.Sprintf("container %s: image %q has no tag", c.Name, c.Image))
		}
		if strings.HasSuffix(last, ":latest") {
			p = append(p, fmt.Sprintf("container %s: image %q uses :latest", c.Name, c.Image))
		}
	}
	return p
}
