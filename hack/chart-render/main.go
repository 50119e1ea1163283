// chart-render renders a Helm 3 chart like `helm template`, for machines where Helm itself is not
// installed. Built from Debian's Go and sprig packages in GOPATH mode (no downloads).
//
// Usage:
//
//	chart-render [flags] [NAME] CHART_DIR
//
// Flags (Helm's spelling): -n/--namespace NS, -f/--values FILE (repeatable), --set K=V,
// --set-string K=V (repeatable), --skip-crds (CRDs from crds/ are printed first by default;
// --include-crds is accepted for Helm compatibility), --no-hooks, --kube-version V,
// -a/--api-versions G/V (repeatable), -s/--show-only templates/x.yaml (repeatable),
// --strict (missing keys are errors), --notes (also print the rendered NOTES.txt),
// --skip-schema-validation.
//
// Exit status: 0 rendered, 1 render/values/schema error, 2 usage error.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type options struct {
	name, namespace, chartDir                    string
	valueFiles, sets, setStrings                 []string
	skipCRDs, noHooks, strict, notes, skipSchema bool
	kubeVersion                                  string
	apiVersions, showOnly                        []string
}

func usage(msg string) {
	if msg != "" {
		fmt.Fprintf(os.Stderr, "chart-render: %s\n", msg)
	}
	fmt.Fprintln(os.Stderr, "usage: chart-render [-n NS] [-f values.yaml]... [--set k=v]... "+
		"[--set-string k=v]... [--skip-crds] [--no-hooks] [--kube-version V] [-a group/version]... "+
		"[-s templates/x.yaml]... [--strict] [--notes] [NAME] CHART_DIR")
	os.Exit(2)
}

func parseArgs(args []string) options {
	o := options{name: "release-name", namespace: "default", kubeVersion: "v1.32.0"}
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() string {
			if eq := strings.IndexByte(a, '='); eq > 0 && strings.HasPrefix(a, "--") {
				return a[eq+1:]
			}
			if i+1 >= len(args) {
				usage(a + " needs a value")
			}
			i++
			return args[i]
		}
		flag := a
		if eq := strings.IndexByte(a, '='); eq > 0 && strings.HasPrefix(a, "--") {
			flag = a[:eq]
		}
		switch flag {
		case "-n", "--namespace":
			o.namespace = val()
		case "-f", "--values":
			o.valueFiles = append(o.valueFiles, val())
		case "--set":
			o.sets = append(o.sets, val())
		case "--set-string":
			o.setStrings = append(o.setStrings, val())
		case "--skip-crds":
			o.skipCRDs = true
		case "--include-crds":
			o.skipCRDs = false
		case "--no-hooks":
			o.noHooks = true
		case "--strict":
			o.strict = true
		case "--notes":
			o.notes = true
		case "--skip-schema-validation":
			o.skipSchema = true
		case "--kube-version":
			o.kubeVersion = val()
		case "-a", "--api-versions":
			o.apiVersions = append(o.apiVersions, val())
		case "-s", "--show-only":
			o.showOnly = append(o.showOnly, val())
		case "-h", "--help":
			usage("")
		default:
			if strings.HasPrefix(a, "-") && a != "-" {
				usage("unknown flag " + a)
			}
			positional = append(positional, a)
		}
	}
	switch len(positional) {
	case 1:
		o.chartDir = positional[0]
	case 2:
		o.name, o.chartDir = positional[0], positional[1]
	default:
		usage("expected [NAME] CHART_DIR")
	}
	return o
}

func kubeVersion(v string) (KubeVersion, error) {
	s := strings.TrimPrefix(v, "v")
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return KubeVersion{}, fmt.Errorf("--kube-version %q: expected vMAJOR.MINOR[.PATCH]", v)
	}
	if len(parts) == 2 {
		s += ".0"
	}
	return KubeVersion{Version: "v" + s, Major: parts[0], Minor: parts[1], GitVersion: "v" + s}, nil
}

func run(o options, w io.Writer) error {
	e, err := LoadChart(o.chartDir)
	if err != nil {
		return err
	}
	e.Strict = o.strict
	kv, err := kubeVersion(o.kubeVersion)
	if err != nil {
		return err
	}
	if err := e.CheckKubeVersion(kv.Version); err != nil {
		return err
	}
	values := map[string]interface{}{}
	if b, ok := e.Files["values.yaml"]; ok {
		if values, err = parseYAMLMap(b, "values.yaml"); err != nil {
			return err
		}
	}
	for _, f := range o.valueFiles {
		user, err := readValuesFile(f)
		if err != nil {
			return err
		}
		values = coalesce(values, user)
	}
	for _, s := range o.sets {
		if err := parseSet(values, s, false); err != nil {
			return fmt.Errorf("failed parsing --set data: %v", err)
		}
	}
	for _, s := range o.setStrings {
		if err := parseSet(values, s, true); err != nil {
			return fmt.Errorf("failed parsing --set-string data: %v", err)
		}
	}
	if schema, ok := e.Files["values.schema.json"]; ok && !o.skipSchema {
		if err := validateValues(e.Chart.Name, schema, values); err != nil {
			return err
		}
	}
	caps := Capabilities{
		KubeVersion: kv,
		APIVersions: append(append(VersionSet{}, defaultAPIVersions...), o.apiVersions...),
		HelmVersion: map[string]string{"Version": "v3.14.0", "GoVersion": "go1.19"},
	}
	rel := Release{Name: o.name, Namespace: o.namespace, Service: "Helm", IsInstall: true, Revision: 1}
	files, err := e.Render(values, rel, caps)
	if err != nil {
		return err
	}
	ms, err := SplitManifests(files)
	if err != nil {
		return err
	}
	var out strings.Builder
	if !o.skipCRDs && len(o.showOnly) == 0 {
		var crds []string
		for name := range e.Files {
			if strings.HasPrefix(name, "crds/") &&
				(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") ||
					strings.HasSuffix(name, ".json")) {
				crds = append(crds, name)
			}
		}
		sort.Strings(crds)
		for _, name := range crds {
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", filepath.ToSlash(filepath.Join(e.Chart.Name, name)),
				string(e.Files[name]))
		}
	}
	shown := map[string]bool{}
	want := func(src string) bool {
		if len(o.showOnly) == 0 {
			return true
		}
		for _, s := range o.showOnly {
			if src == s || src == e.Chart.Name+"/"+s {
				shown[s] = true
				return true
			}
		}
		return false
	}
	for _, m := range ms {
		if !m.Hook && want(m.Source) {
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", m.Source, m.Content)
		}
	}
	if !o.noHooks {
		for _, m := range ms {
			if m.Hook && want(m.Source) {
				fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", m.Source, m.Content)
			}
		}
	}
	for _, s := range o.showOnly {
		if !shown[s] {
			return fmt.Errorf("could not find template %s in chart", s)
		}
	}
	if o.notes {
		if n, ok := files[e.Chart.Name+"/templates/NOTES.txt"]; ok {
			fmt.Fprintf(&out, "\nNOTES:\n%s\n", n)
		}
	}
	_, err = io.WriteString(w, out.String())
	return err
}

func main() {
	o := parseArgs(os.Args[1:])
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}
