package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of docker-compose.yml this test reads.
type composeFile struct {
	Services map[string]struct {
		Command     []string `yaml:"command"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

// TestComposeCommandsAreAccepted checks that every command docker-compose.yml
// runs names one of our binaries, a subcommand it has and only flags that
// subcommand accepts (as its own --help lists them), and that the broker
// config the compose file mounts passes `tvm-broker check` with the broker
// service's environment (its own identity on the local AWS).
func TestComposeCommandsAreAccepted(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	if len(cf.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	known := []string{"tvm-local", "tvm-broker", "tvm-sample", "tvm-creds"}
	flagRE := regexp.MustCompile(`^--?([a-z0-9][a-z0-9-]*)`)
	checked := 0
	for name, svc := range cf.Services {
		for kind, argv := range map[string][]string{"command": svc.Command, "healthcheck": svc.Healthcheck.Test} {
			if len(argv) > 0 && (argv[0] == "CMD" || argv[0] == "CMD-SHELL") {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				continue
			}
			t.Run(name+"/"+kind, func(t *testing.T) {
				bin := argv[0]
				if !slices.Contains(known, bin) {
					t.Fatalf("%q is not one of the project's binaries %v", bin, known)
				}
				args := argv[1:]
				var sub []string
				if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
					sub = args[:1]
				}
				help, code := run(t, nil, bin, append(slices.Clip(sub), "--help")...)
				if code != 0 {
					t.Fatalf("%s %v --help: exit %d\n%s", bin, sub, code, help)
				}
				for _, a := range args {
					m := flagRE.FindStringSubmatch(a)
					if m == nil {
						continue
					}
					if !regexp.MustCompile(`(?m)^\s+--?` + regexp.QuoteMeta(m[1]) + `\b`).MatchString(help) {
						t.Errorf("%s %v does not accept flag --%s; its help says:\n%s", bin, sub, m[1], help)
					}
				}
				checked++
			})
		}
	}
	if checked == 0 {
		t.Fatal("no compose command was checked")
	}

	// The broker service's check, with its environment: the local AWS, which
	// abac-read's role is read from through IAM (role_policy_from_iam).
	local, _ := startLocal(t, "")
	out, code := run(t, brokerEnv(local), "tvm-broker", "check", "--config", filepath.Join(repoRoot(t), "examples", "broker.yaml"))
	if code != 0 || !strings.Contains(out, "ok: 8 profiles checked") {
		t.Fatalf("tvm-broker check examples/broker.yaml: exit %d\n%s", code, out)
	}
}
