package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSetTypesListsAndEscapes(t *testing.T) {
	v := map[string]interface{}{"keep": "x", "gone": "y"}
	for _, s := range []string{
		"a.b=1,a.c=true,a.d=0123,a.e=null", "list={x,2,false}", "idx[1].name=n",
		`dotted\.key=v`, `comma=a\,b`, "gone=null", "empty={}",
	} {
		if err := parseSet(v, s, false); err != nil {
			t.Fatalf("parseSet(%q): %v", s, err)
		}
	}
	if err := parseSet(v, "str=42", true); err != nil {
		t.Fatal(err)
	}
	want := map[string]interface{}{
		"keep":       "x",
		"a":          map[string]interface{}{"b": int64(1), "c": true, "d": "0123"},
		"list":       []interface{}{"x", int64(2), false},
		"idx":        []interface{}{nil, map[string]interface{}{"name": "n"}},
		"dotted.key": "v",
		"comma":      "a,b",
		"empty":      []interface{}{},
		"str":        "42",
	}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v\nwant %#v", v, want)
	}
	for _, bad := range []string{"novalue", "a..b=1", "x[abc]=1", "x[99999999]=1"} {
		if err := parseSet(map[string]interface{}{}, bad, false); err == nil {
			t.Errorf("parseSet(%q) accepted", bad)
		}
	}
}

func TestCoalesceMergesMapsAndNullDeletes(t *testing.T) {
	def := map[string]interface{}{
		"a": map[string]interface{}{"x": 1.0, "y": 2.0},
		"b": []interface{}{1.0},
		"c": "keep",
	}
	user := map[string]interface{}{
		"a": map[string]interface{}{"y": 3.0, "z": 4.0},
		"b": []interface{}{9.0},
		"c": nil,
	}
	got := coalesce(def, user)
	want := map[string]interface{}{
		"a": map[string]interface{}{"x": 1.0, "y": 3.0, "z": 4.0},
		"b": []interface{}{9.0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
}

func TestYAMLNumbersAreFloat64LikeHelm(t *testing.T) {
	m, err := parseYAMLMap([]byte("num: 2\nbig: 1000000\nm: {1: a}\n"), "t")
	if err != nil {
		t.Fatal(err)
	}
	if m["num"] != 2.0 || m["big"] != 1e6 || m["m"].(map[string]interface{})["1"] != "a" {
		t.Fatalf("got %#v", m)
	}
	if _, err := parseYAMLMap([]byte("- a\n"), "t"); err == nil {
		t.Fatal("a list at the top level was accepted")
	}
}

func TestSchemaValidation(t *testing.T) {
	schema := []byte(`{"type":"object","additionalProperties":false,"required":["r"],
	  "definitions":{"port":{"type":"integer","minimum":1,"maximum":65535}},
	  "properties":{"r":{"type":"string","enum":["a","b"]},"p":{"$ref":"#/definitions/port"},
	  "l":{"type":"array","items":{"type":"string"}},"s":{"type":"string","pattern":"^x+$"},
	  "n":{"type":["string","integer"]}}}`)
	ok := map[string]interface{}{"r": "a", "p": 8000.0, "l": []interface{}{"q"}, "s": "xx", "n": int64(3)}
	if err := validateValues("c", schema, ok); err != nil {
		t.Fatalf("valid values rejected: %v", err)
	}
	bad := map[string]interface{}{"p": 70000.0, "l": []interface{}{1.0}, "s": "y", "extra": 1.0,
		"n": 1.5}
	err := validateValues("c", schema, bad)
	if err == nil {
		t.Fatal("invalid values accepted")
	}
	for _, want := range []string{"r is required", "p: Must be less than or equal to 65535",
		"l.0: Invalid type", "s: Does not match pattern", "Additional property extra",
		"n: Invalid type. Expected: string|integer, given: number"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if err := validateValues("c", schema, map[string]interface{}{"r": "zz"}); err == nil ||
		!strings.Contains(err.Error(), "must be one of the following") {
		t.Errorf("enum not enforced: %v", err)
	}
}

func TestSplitManifestsOrderAndEmptyDocs(t *testing.T) {
	files := map[string]string{
		"c/templates/b.yaml":    "kind: Deployment\nmetadata: {name: d}\n---\n\n---\nkind: Service\n",
		"c/templates/a.yaml":    "# only a comment\n---\nkind: Zebra\n---\nkind: Apple\n",
		"c/templates/c.yaml":    "kind: ServiceAccount\n---\nkind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: pre-install\n",
		"c/templates/e.yaml":    "   \n",
		"c/templates/NOTES.txt": "kind: Pod\n",
	}
	ms, err := SplitManifests(files)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range ms {
		k := m.Kind
		if m.Hook {
			k += "(hook)"
		}
		kinds = append(kinds, k)
	}
	// "# only a comment" is a document without a kind: unknown kinds go last, by kind name.
	want := []string{"ServiceAccount", "Service", "Deployment", "Job(hook)", "", "Apple", "Zebra"}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("order %v, want %v", kinds, want)
	}
	if _, err := SplitManifests(map[string]string{"c/templates/x.yaml": "a: [unclosed\n"}); err == nil ||
		!strings.Contains(err.Error(), "YAML parse error on c/templates/x.yaml") {
		t.Fatalf("bad YAML not reported: %v", err)
	}
}

func TestToYAMLSortsKeysAndTrims(t *testing.T) {
	s, err := toYAML(map[string]interface{}{"b": 1.0, "a": []interface{}{"x", true}, "c": "true"})
	if err != nil {
		t.Fatal(err)
	}
	want := "a:\n- x\n- true\nb: 1\nc: \"true\""
	if s != want {
		t.Fatalf("got %q want %q", s, want)
	}
}

func writeChart(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRunRendersLikeHelmTemplate(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"Chart.yaml":         "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"9\"\nkubeVersion: \">=1.20.0-0\"\n",
		"values.yaml":        "replicas: 2\nname: web\nlist: [a, b]\nmsg: '{{ .Values.name }}-tpl'\n",
		"values.schema.json": `{"type":"object","properties":{"replicas":{"type":"integer","minimum":1}}}`,
		"crds/x.yaml":        "# crd file kept verbatim\nkind: CustomResourceDefinition\n",
		"templates/_h.tpl":   `{{- define "demo.full" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}`,
		"templates/d.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "demo.full" . }}
  namespace: {{ .Release.Namespace }}
  labels: {chart: "{{ .Chart.Name }}-{{ .Chart.Version }}", app: "{{ .Chart.AppVersion }}"}
spec:
  replicas: {{ .Values.replicas }}
  missing: "{{ .Values.nope }}"
  tpl: {{ tpl .Values.msg . }}
  list:
    {{- toYaml .Values.list | nindent 4 }}
  has: {{ .Capabilities.APIVersions.Has "apps/v1" }}
  kube: {{ .Capabilities.KubeVersion.Minor }}
  template: {{ .Template.Name }}
`,
		"templates/empty.yaml": "{{- if false }}\nkind: Nothing\n{{- end }}\n",
		"templates/cm.yaml":    "kind: ConfigMap\nmetadata:\n  name: {{ required \"name is required\" .Values.name }}\n",
		"templates/NOTES.txt":  "release {{ .Release.Name }}\n",
	})
	var out strings.Builder
	o := parseArgs([]string{"rel", dir, "-n", "ns1", "--set", "replicas=3", "--kube-version", "v1.29"})
	if err := run(o, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"---\n# Source: demo/crds/x.yaml\n# crd file kept verbatim\nkind: CustomResourceDefinition\n\n",
		"# Source: demo/templates/cm.yaml\nkind: ConfigMap\n",
		"name: rel-demo\n", "namespace: ns1\n", `chart: "demo-1.2.3"`, `app: "9"`,
		"replicas: 3\n", "missing: \"\"\n", "tpl: web-tpl\n", "list:\n    - a\n    - b\n",
		"has: true\n", "kube: 29\n", "template: demo/templates/d.yaml\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Nothing") || strings.Contains(got, "release rel") ||
		strings.Contains(got, "_h.tpl") {
		t.Errorf("empty document, NOTES or partial printed:\n%s", got)
	}
	// Order: CRDs, then ConfigMap before Deployment (install order), whatever the file names.
	if !(strings.Index(got, "crds/x.yaml") < strings.Index(got, "cm.yaml") &&
		strings.Index(got, "cm.yaml") < strings.Index(got, "d.yaml")) {
		t.Errorf("wrong order:\n%s", got)
	}

	out.Reset()
	if err := run(parseArgs([]string{dir, "--skip-crds", "--notes", "-s", "templates/cm.yaml"}), &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "CustomResourceDefinition") ||
		strings.Contains(out.String(), "Deployment") ||
		!strings.Contains(out.String(), "NOTES:\nrelease release-name") {
		t.Errorf("--skip-crds/--show-only/--notes output:\n%s", out.String())
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{dir, "--set", "replicas=0"}, "replicas: Must be greater than or equal to 1"},
		{[]string{dir, "--set", "name="}, "execution error at (demo/templates/cm.yaml:3:11): name is required"},
		{[]string{dir, "--kube-version", "v1.19.0"}, "chart requires kubeVersion"},
		{[]string{dir, "-s", "templates/none.yaml"}, "could not find template"},
		{[]string{dir, "--strict"}, "nope"},
	} {
		err := run(parseArgs(c.args), &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}

func TestValuesFilesOverrideInOrder(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"Chart.yaml":       "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
		"values.yaml":      "a: {x: 1, y: 1}\n",
		"templates/v.yaml": "kind: ConfigMap\ndata: {x: \"{{ .Values.a.x }}\", y: \"{{ .Values.a.y }}\", z: \"{{ .Values.a.z }}\"}\n",
	})
	f1 := filepath.Join(dir, "f1.yaml")
	f2 := filepath.Join(dir, "f2.yaml")
	os.WriteFile(f1, []byte("a: {x: 2, z: 2}\n"), 0o644)
	os.WriteFile(f2, []byte("a: {z: 3, y: null}\n"), 0o644)
	var out strings.Builder
	if err := run(parseArgs([]string{dir, "-f", f1, "--values", f2}), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `data: {x: "2", y: "", z: "3"}`) {
		t.Fatalf("got:\n%s", out.String())
	}
}

func TestChartValidation(t *testing.T) {
	for _, c := range []struct{ chart, want string }{
		{"apiVersion: v1\nname: x\nversion: 1.0.0\n", "apiVersion must be v2"},
		{"apiVersion: v2\nversion: 1.0.0\n", "name is required"},
		{"apiVersion: v2\nname: x\nversion: one\n", "not a SemVerV2"},
		{"apiVersion: v2\nname: x\nversion: 1.0.0\ntype: library\n", "only application charts"},
	} {
		dir := writeChart(t, map[string]string{"Chart.yaml": c.chart})
		if _, err := LoadChart(dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.chart, err, c.want)
		}
	}
}
