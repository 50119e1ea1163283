package main

// The template engine: Helm's rules for loading a chart's templates, the function map (sprig
// plus Helm's own), rendering, splitting into documents and ordering them for output.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	yaml2 "gopkg.in/yaml.v2"
)

// Chart is what Chart.yaml holds (the fields templates read), exposed to templates as .Chart
// with Helm's capitalised names.
type Chart struct {
	APIVersion   string                   `yaml:"apiVersion"`
	Name         string                   `yaml:"name"`
	Version      string                   `yaml:"version"`
	KubeVersion  string                   `yaml:"kubeVersion"`
	Description  string                   `yaml:"description"`
	Type         string                   `yaml:"type"`
	Keywords     []string                 `yaml:"keywords"`
	Home         string                   `yaml:"home"`
	Sources      []string                 `yaml:"sources"`
	Icon         string                   `yaml:"icon"`
	AppVersion   string                   `yaml:"appVersion"`
	Deprecated   bool                     `yaml:"deprecated"`
	Annotations  map[string]string        `yaml:"annotations"`
	Maintainers  []map[string]string      `yaml:"maintainers"`
	Dependencies []map[string]interface{} `yaml:"dependencies"`
}

// Release is .Release.
type Release struct {
	Name      string
	Namespace string
	Service   string
	IsInstall bool
	IsUpgrade bool
	Revision  int
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has reports whether "group/version" or "group/version/Kind" is available.
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// Capabilities is .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// Files is .Files (read-only access to the chart's non-template files).
type Files map[string][]byte

// Get returns a file's content as a string ("" when absent).
func (f Files) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's content.
func (f Files) GetBytes(name string) []byte { return f[name] }

// Glob returns the files whose path matches pattern.
func (f Files) Glob(pattern string) Files {
	out := Files{}
	for k, v := range f {
		if ok, _ := path.Match(pattern, k); ok {
			out[k] = v
		}
	}
	return out
}

// defaultAPIVersions is what `helm template` assumes without a cluster (the built-in groups).
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "rbac.authorization.k8s.io/v1",
	"networking.k8s.io/v1", "coordination.k8s.io/v1", "apiextensions.k8s.io/v1",
	"admissionregistration.k8s.io/v1", "autoscaling/v1", "autoscaling/v2",
	"storage.k8s.io/v1", "scheduling.k8s.io/v1", "authentication.k8s.io/v1",
	"authorization.k8s.io/v1", "certificates.k8s.io/v1", "discovery.k8s.io/v1",
	"events.k8s.io/v1", "node.k8s.io/v1",
}

// installOrder is Helm's releaseutil.InstallOrder.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
}

// Manifest is one rendered YAML document.
type Manifest struct {
	Source  string // e.g. commissaire/templates/deployment.yaml
	Content string
	Kind    string
	Hook    bool
}

// toYAML marshals like Helm's toYaml (sigs.k8s.io/yaml: through JSON, keys sorted).
func toYAML(v interface{}) (string, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var obj interface{}
	if err := yaml2.Unmarshal(j, &obj); err != nil {
		return "", err
	}
	out, err := yaml2.Marshal(obj)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

func fromYAML(s string) map[string]interface{} {
	m, err := parseYAMLMap([]byte(s), "fromYaml")
	if err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	return m
}

func fromYAMLArray(s string) []interface{} {
	var raw interface{}
	if err := yaml2.Unmarshal([]byte(s), &raw); err != nil {
		return []interface{}{err.Error()}
	}
	v, err := yamlToJSONValue(raw)
	if err != nil {
		return []interface{}{err.Error()}
	}
	a, ok := v.([]interface{})
	if !ok {
		return []interface{}{"fromYamlArray: not an array"}
	}
	return a
}

func toJSONString(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(s string) []interface{} {
	var a []interface{}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return []interface{}{err.Error()}
	}
	return a
}

// Engine renders one chart.
type Engine struct {
	ChartDir  string
	Chart     Chart
	Templates map[string]string // "chart/templates/x.yaml" -> source
	Files     Files
	Strict    bool
}

// LoadChart reads Chart.yaml, templates/ and the other files of a chart directory.
func LoadChart(dir string) (*Engine, error) {
	e := &Engine{ChartDir: dir, Templates: map[string]string{}, Files: Files{}}
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("Chart.yaml file is missing: %v", err)
	}
	if err := yaml2.Unmarshal(data, &e.Chart); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %v", err)
	}
	switch {
	case e.Chart.APIVersion != "v2":
		return nil, fmt.Errorf("Chart.yaml: apiVersion must be v2 (Helm 3), got %q", e.Chart.APIVersion)
	case e.Chart.Name == "":
		return nil, fmt.Errorf("Chart.yaml: name is required")
	case e.Chart.Version == "":
		return nil, fmt.Errorf("Chart.yaml: version is required")
	}
	if _, err := semver.StrictNewVersion(e.Chart.Version); err != nil {
		return nil, fmt.Errorf("Chart.yaml: version %q is not a SemVerV2: %v", e.Chart.Version, err)
	}
	if e.Chart.Type != "" && e.Chart.Type != "application" {
		return nil, fmt.Errorf("Chart.yaml: only application charts can be rendered (type %q)", e.Chart.Type)
	}
	if len(e.Chart.Dependencies) > 0 {
		return nil, fmt.Errorf("Chart.yaml: dependencies (subcharts) are not supported by chart-render")
	}
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			if rel == "charts" {
				if ents, _ := os.ReadDir(p); len(ents) > 0 {
					return fmt.Errorf("charts/ (subcharts) is not supported by chart-render")
				}
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "templates/") {
			e.Templates[e.Chart.Name+"/"+rel] = string(b)
		} else {
			e.Files[rel] = b
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// CheckKubeVersion applies Chart.yaml's kubeVersion constraint like Helm.
func (e *Engine) CheckKubeVersion(kv string) error {
	if e.Chart.KubeVersion == "" {
		return nil
	}
	c, err := semver.NewConstraint(e.Chart.KubeVersion)
	if err != nil {
		return fmt.Errorf("Chart.yaml: kubeVersion %q: %v", e.Chart.KubeVersion, err)
	}
	v, err := semver.NewVersion(kv)
	if err != nil {
		return fmt.Errorf("--kube-version %q: %v", kv, err)
	}
	if !c.Check(v) {
		return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s",
			e.Chart.KubeVersion, kv)
	}
	return nil
}

func (e *Engine) chartMap() map[string]interface{} {
	c := e.Chart
	return map[string]interface{}{
		"APIVersion": c.APIVersion, "Name": c.Name, "Version": c.Version,
		"KubeVersion": c.KubeVersion, "Description": c.Description, "Type": c.Type,
		"Keywords": c.Keywords, "Home": c.Home, "Sources": c.Sources, "Icon": c.Icon,
		"AppVersion": c.AppVersion, "Deprecated": c.Deprecated, "Annotations": c.Annotations,
		"Maintainers": c.Maintainers,
	}
}

var noValue = regexp.MustCompile(`<no value>`)

// Render executes every template. It returns the rendered files by template name (partials
// "_*" excluded, NOTES.txt included) or the first error, worded like Helm's.
func (e *Engine) Render(values map[string]interface{}, rel Release, caps Capabilities) (map[string]string, error) {
	t := template.New("gotpl")
	if e.Strict {
		t.Option("missingkey=error")
	} else {
		t.Option("missingkey=zero")
	}
	includedNames := map[string]int{}
	funcs := sprig.TxtFuncMap()
	// Helm drops these two: a chart must not read the renderer's environment.
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = func(v interface{}) string { s, _ := toYAML(v); return s }
	funcs["mustToYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["fromYamlArray"] = fromYAMLArray
	funcs["toJson"] = toJSONString
	funcs["mustToJson"] = func(v interface{}) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}
	funcs["fromJson"] = fromJSON
	funcs["fromJsonArray"] = fromJSONArray
	funcs["toToml"] = func(v interface{}) string { return "" }
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, fmt.Errorf("%s", msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	funcs["lookup"] = func(apiVersion, kind, ns, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if includedNames[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includedNames[name]++
		defer func() { includedNames[name]-- }()
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		nt, err := c.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var buf bytes.Buffer
		if err := nt.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %v", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	t.Funcs(funcs)

	names := make([]string, 0, len(e.Templates))
	for n := range e.Templates {
		names = append(names, n)
	}
	// Helm parses in reverse-sorted order so that partials in files named earlier win
	// duplicate definitions; we do the same.
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, n := range names {
		if _, err := t.New(n).Parse(e.Templates[n]); err != nil {
			return nil, fmt.Errorf("parse error at (%s): %v", n, cleanErr(err))
		}
	}
	out := map[string]string{}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasPrefix(path.Base(n), "_") {
			continue
		}
		top := map[string]interface{}{
			"Values":       values,
			"Release":      rel,
			"Chart":        e.chartMap(),
			"Capabilities": caps,
			"Files":        e.Files,
			"Template": map[string]interface{}{
				"Name":     n,
				"BasePath": e.Chart.Name + "/templates",
			},
		}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, n, top); err != nil {
			return nil, fmt.Errorf("%s", cleanErr(err))
		}
		out[n] = noValue.ReplaceAllString(buf.String(), "")
	}
	return out, nil
}

var execErr = regexp.MustCompile(`^template: (\S+?:\d+:\d+): executing "[^"]*" at <.*?>: error calling (?:fail|required): (.*)$`)

// cleanErr words template errors like Helm: fail/required become "execution error at (file:
// line:col): message".
func cleanErr(err error) string {
	msg := err.Error()
	if m := execErr.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("execution error at (%s): %s", m[1], m[2])
	}
	return strings.TrimPrefix(msg, "template: ")
}

var docSep = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

// SplitManifests splits rendered files into non-empty documents, parses their heads (a document
// that is not valid YAML is an error, as in Helm) and orders them: by file name, documents in
// file order, then stably by Helm's install order of kinds (unknown kinds last, by kind name).
func SplitManifests(files map[string]string) ([]Manifest, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		if path.Base(n) == "NOTES.txt" || strings.HasPrefix(path.Base(n), "_") {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var ms []Manifest
	for _, n := range names {
		if strings.TrimSpace(files[n]) == "" {
			continue
		}
		for _, doc := range docSep.Split(files[n], -1) {
			doc = strings.TrimSpace(doc)
			if doc == "" {
				continue
			}
			var head struct {
				Kind     string `yaml:"kind"`
				Metadata struct {
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"metadata"`
			}
			if err := yaml2.Unmarshal([]byte(doc), &head); err != nil {
				return nil, fmt.Errorf("YAML parse error on %s: %v", n, err)
			}
			_, hook := head.Metadata.Annotations["helm.sh/hook"]
			ms = append(ms, Manifest{Source: n, Content: doc, Kind: head.Kind, Hook: hook})
		}
	}
	rank := map[string]int{}
	for i, k := range installOrder {
		rank[k] = i
	}
	sort.SliceStable(ms, func(i, j int) bool {
		a, aok := rank[ms[i].Kind]
		b, bok := rank[ms[j].Kind]
		switch {
		case !aok && !bok:
			return ms[i].Kind < ms[j].Kind
		case !aok:
			return false
		case !bok:
			return true
		}
		return a < b
	})
	return ms, nil
}
