package alertrules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode"
)

// IntakePath is the path of tend's Alertmanager webhook intake.
const IntakePath = "/api/v1/integrations/alertmanager"

// DefaultReceiverName names the receiver and route tend adds.
const DefaultReceiverName = "tend"

// Receiver says where Alertmanager delivers a project's alerts and with
// which credential.
type Receiver struct {
	// Project selects the alerts: those labelled project="<Project>", or
	// with the project label Labels names.
	Project string
	// Labels name the alert labels of the project (the route's matcher),
	// stage and service (with the project, what a generated configuration
	// groups by): the intake's names (tend.yaml intake.labels). The zero
	// value means project, stage and service.
	Labels LabelNames
	// Name is the receiver's name (default DefaultReceiverName). A merge
	// replaces the receiver and the top-level routes of this name, so
	// merging again updates instead of duplicating.
	Name string
	// URL is tend's address (http://tend:8080) or the full intake URL.
	URL string
	// Token is the project's intake token, written inline as
	// http_config.authorization.credentials. CredentialsFile is the
	// alternative: the path of a file holding it, which Alertmanager reads
	// itself, so the token stays out of the configuration. Give one.
	Token, CredentialsFile string
}

// ErrMerge marks an Alertmanager configuration that tend cannot merge into.
var ErrMerge = errors.New("cannot merge into the alertmanager configuration")

func (r Receiver) check() (Receiver, error) {
	if r.Name == "" {
		r.Name = DefaultReceiverName
	}
	r.Labels = r.Labels.withDefaults()
	var problems []error
	if strings.TrimSpace(r.Project) == "" {
		problems = append(problems, errors.New("the project is empty"))
	}
	for _, p := range r.Labels.problems() {
		problems = append(problems, errors.New(p))
	}
	u, err := IntakeURL(r.URL)
	if err != nil {
		problems = append(problems, err)
	}
	r.URL = u
	switch {
	case r.Token == "" && r.CredentialsFile == "":
		problems = append(problems, errors.New("no intake token: give the token or a file holding it"))
	case r.Token != "" && r.CredentialsFile != "":
		problems = append(problems, errors.New("both a token and a credentials file: give one"))
	}
	return r, errors.Join(problems...)
}

// IntakeURL returns the intake URL for tend's address base: base itself
// when its path already ends in IntakePath, else base with IntakePath
// appended to its path.
func IntakeURL(base string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("intake URL %q is not an http(s) URL with a host; want tend's address, e.g. http://tend.example:8080", base)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("intake URL %s: give tend's address without user, query or fragment; the token goes into http_config.authorization", u.Redacted())
	}
	if !strings.HasSuffix(u.Path, IntakePath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + IntakePath
	}
	return u.String(), nil
}

// route is the route tend adds. continue: true lets the alerts go on to
// the user's routes, so tend listens without taking them away from people.
type route struct {
	Receiver string   `yaml:"receiver"`
	Matchers []string `yaml:"matchers"`
	Continue bool     `yaml:"continue"`
}

type receiver struct {
	Name           string          `yaml:"name"`
	WebhookConfigs []webhookConfig `yaml:"webhook_configs"`
}

type webhookConfig struct {
	URL          string     `yaml:"url"`
	SendResolved bool       `yaml:"send_resolved"`
	HTTPConfig   httpConfig `yaml:"http_config"`
}

type httpConfig struct {
	Authorization authorization `yaml:"authorization"`
}

type authorization struct {
	Type            string `yaml:"type"`
	Credentials     string `yaml:"credentials,omitempty"`
	CredentialsFile string `yaml:"credentials_file,omitempty"`
}

func (r Receiver) nodes() (*yaml.Node, *yaml.Node, error) {
	var rt, rc yaml.Node
	if err := rt.Encode(route{Receiver: r.Name, Matchers: []string{quoteLabelName(r.Labels.Project) + "=" + matcherValue(r.Project)}, Continue: true}); err != nil {
		return nil, nil, fmt.Errorf("encode route: %w", err)
	}
	err := rc.Encode(receiver{Name: r.Name, WebhookConfigs: []webhookConfig{{
		URL: r.URL, SendResolved: true,
		HTTPConfig: httpConfig{Authorization: authorization{Type: "Bearer", Credentials: r.Token, CredentialsFile: r.CredentialsFile}},
	}}})
	if err != nil {
		return nil, nil, fmt.Errorf("encode receiver: %w", err)
	}
	// Matchers read best in flow style: matchers: ['project="sockshop"'].
	rt.Content[3].Style = yaml.FlowStyle
	return &rt, &rc, nil
}

// matcherValue quotes v as Alertmanager's matcher syntax reads it.
func matcherValue(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

// AlertmanagerConfig returns a complete Alertmanager configuration that
// sends the project's alerts to tend and drops all others (into a receiver
// without integrations), for a new Alertmanager or as a start to edit.
func AlertmanagerConfig(r Receiver) ([]byte, error) {
	r, err := r.check()
	if err != nil {
		return nil, fmt.Errorf("alertmanager config: %w", err)
	}
	drop := "null"
	if r.Name == drop {
		drop = "drop"
	}
	groupBy := []string{"alertname"}
	for _, l := range []string{r.Labels.Project, r.Labels.Stage, r.Labels.Service} {
		groupBy = append(groupBy, quoteLabelName(l))
	}
	base := fmt.Sprintf(`# Alertmanager configuration generated by tend for project %s.
# Alerts of other projects go to the receiver %q, which drops them.
# To add tend to an existing configuration instead, use --merge FILE.
route:
  receiver: %q
  group_by: [%s]
receivers:
  - name: %q
`, strings.ReplaceAll(r.Project, "\n", " "), drop, drop, strings.Join(groupBy, ", "), drop)
	return merge("generated", []byte(base), r)
}

// MergeAlertmanager adds tend's route and receiver to the Alertmanager
// configuration data (read from filename, for messages), keeping everything
// else, comments and order included: the route becomes the first of
// route.routes, with continue: true; the receiver is appended to receivers.
// A route whose receiver is r.Name is removed first, and a receiver of that
// name is replaced where it stands, so merging twice gives what merging
// once gives. Errors name the file, line and column and wrap ErrMerge.
func MergeAlertmanager(filename string, data []byte, r Receiver) ([]byte, error) {
	r, err := r.check()
	if err != nil {
		return nil, fmt.Errorf("alertmanager config: %w", err)
	}
	return merge(filename, data, r)
}

func merge(filename string, data []byte, r Receiver) ([]byte, error) {
	fail := func(n *yaml.Node, format string, args ...any) error {
		pos := filename
		if n != nil && n.Line > 0 {
			pos = fmt.Sprintf("%s:%d:%d", filename, n.Line, n.Column)
		}
		return fmt.Errorf("%w: %s: %s", ErrMerge, pos, fmt.Sprintf(format, args...))
	}
	// The file is outside input: yamlnode's decoder refuses a document
	// over tend's size and alias-expansion limits, and an alias that
	// contains itself, before anything below follows its aliases.
	dec := yamlnode.NewDecoder(data)
	doc, err := dec.Decode()
	switch {
	case errors.Is(err, io.EOF):
		return nil, fail(nil, "the file is empty; an Alertmanager configuration needs at least route: {receiver: NAME} and receivers: [{name: NAME}]")
	case errors.Is(err, yamlnode.ErrLimit):
		return nil, fail(nil, "%v", err)
	case err != nil:
		return nil, fail(nil, "not YAML: %v", err)
	}
	if extra, err := dec.Decode(); !errors.Is(err, io.EOF) {
		return nil, fail(extra, "a second YAML document: Alertmanager reads one; remove the --- and what follows")
	}
	// Nodes accept what Alertmanager cannot load (a key given twice);
	// loading the document once, within the limits checked above, rejects
	// that before tend adds to it.
	var loaded any
	if err := doc.Decode(&loaded); err != nil {
		return nil, fail(nil, "not usable YAML: %v", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fail(doc, "not a YAML document")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fail(root, "the configuration must be a mapping with route: and receivers:, not %s", kindName(root))
	}

	rt, rc, err := r.nodes()
	if err != nil {
		return nil, err
	}

	_, routeNode := lookup(root, "route")
	switch {
	case routeNode == nil:
		return nil, fail(root, "no route: block; an Alertmanager configuration needs route: {receiver: NAME} for the alerts no other route takes")
	case routeNode.Kind != yaml.MappingNode:
		return nil, fail(routeNode, "route must be a mapping (receiver:, routes:), not %s", kindName(routeNode))
	}
	routes := ensureSequence(routeNode, "routes")
	if routes.Kind != yaml.SequenceNode {
		return nil, fail(routes, "route.routes must be a list of routes, not %s", kindName(routes))
	}
	kept := []*yaml.Node{rt}
	for _, n := range routes.Content {
		if v := scalar(n, "receiver"); v == r.Name {
			continue
		}
		kept = append(kept, n)
	}
	// A flow list ("routes: []") would print tend's route on one line.
	routes.Style &^= yaml.FlowStyle
	routes.Content = kept

	receivers := ensureSequence(root, "receivers")
	if receivers.Kind != yaml.SequenceNode {
		return nil, fail(receivers, "receivers must be a list of receivers, not %s", kindName(receivers))
	}
	receivers.Style &^= yaml.FlowStyle
	replaced := false
	out := receivers.Content[:0:0]
	for _, n := range receivers.Content {
		if scalar(n, "name") == r.Name {
			if !replaced {
				out = append(out, rc)
				replaced = true
			}
			continue
		}
		out = append(out, n)
	}
	if !replaced {
		out = append(out, rc)
	}
	receivers.Content = out

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fail(nil, "encode the merged configuration: %v", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fail(nil, "encode the merged configuration: %v", err)
	}
	return buf.Bytes(), nil
}

// lookup returns the key and value nodes of key in mapping m, or nils.
func lookup(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return k, m.Content[i+1]
		}
	}
	return nil, nil
}

// ensureSequence returns the value of key in mapping m, adding an empty
// list when the key is missing and turning a null value into one.
func ensureSequence(m *yaml.Node, key string) *yaml.Node {
	_, v := lookup(m, key)
	if v == nil {
		v = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
		return v
	}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		// Keep the node, so its comments stay.
		v.Kind, v.Tag, v.Value, v.Style = yaml.SequenceNode, "!!seq", "", 0
	}
	return v
}

// scalar returns the string value of key in n when n is a mapping, else "".
func scalar(n *yaml.Node, key string) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	_, v := lookup(n, key)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias (expand it in place)"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "something else"
}
