package unleash

import (
	"fmt"
	"sort"
	"strings"
)

// Toggle is one requested flag change: switch Feature on or off.
type Toggle struct {
	Feature string `json:"feature"`
	On      bool   `json:"on"`
}

// ParseValue reads the value of a toggle-feature or featuretoggle action.
// Keptn wrote toggle-feature's value as a map of feature names to states
// ({EnablePromotion: "off"}) and Keptn 0.6's featuretoggle as one string
// ("EnablePromotion:off"); both shapes are accepted for both names, since the
// meaning is the same. A state is on, off, true, false, enabled or disabled
// (any case) or a YAML boolean. The toggles come back sorted by feature name
// so a plan is the same every time it is prepared.
func ParseValue(value any) ([]Toggle, error) {
	var toggles []Toggle
	switch v := value.(type) {
	case nil:
		return nil, fmt.Errorf("the value is empty; want a map of feature names to on or off, e.g. {EnablePromotion: off}, or a string like \"EnablePromotion:off\"")
	case string:
		name, state, ok := strings.Cut(v, ":")
		if !ok {
			return nil, fmt.Errorf("value %q has no colon; want FEATURE:STATE, e.g. \"EnablePromotion:off\"", v)
		}
		t, err := toggle(strings.TrimSpace(name), strings.TrimSpace(state))
		if err != nil {
			return nil, err
		}
		toggles = append(toggles, t)
	case map[string]any:
		for name, state := range v {
			t, err := toggle(name, state)
			if err != nil {
				return nil, err
			}
			toggles = append(toggles, t)
		}
	case map[string]string:
		for name, state := range v {
			t, err := toggle(name, state)
			if err != nil {
				return nil, err
			}
			toggles = append(toggles, t)
		}
	case map[any]any:
		for k, state := range v {
			name, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("feature name %v is a %T; want a string", k, k)
			}
			t, err := toggle(name, state)
			if err != nil {
				return nil, err
			}
			toggles = append(toggles, t)
		}
	default:
		return nil, fmt.Errorf("the value is a %T; want a map of feature names to on or off, e.g. {EnablePromotion: off}, or a string like \"EnablePromotion:off\"", value)
	}
	if len(toggles) == 0 {
		return nil, fmt.Errorf("the value names no feature; want e.g. {EnablePromotion: off}")
	}
	sort.Slice(toggles, func(i, j int) bool { return toggles[i].Feature < toggles[j].Feature })
	return toggles, nil
}

// toggle checks one feature name and its state.
func toggle(name string, state any) (Toggle, error) {
	if strings.TrimSpace(name) == "" {
		return Toggle{}, fmt.Errorf("a feature name is empty; want the Unleash feature's name, e.g. EnablePromotion")
	}
	if strings.ContainsAny(name, "/ \t\r\n") {
		return Toggle{}, fmt.Errorf("feature name %q contains a slash or white space, which Unleash feature names never do", name)
	}
	on, err := parseState(state)
	if err != nil {
		return Toggle{}, fmt.Errorf("feature %s: %w", name, err)
	}
	return Toggle{Feature: name, On: on}, nil
}

// parseState reads on/off in the spellings remediation files use.
func parseState(state any) (bool, error) {
	switch s := state.(type) {
	case bool:
		return s, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "on", "true", "enabled", "enable":
			return true, nil
		case "off", "false", "disabled", "disable":
			return false, nil
		}
		return false, fmt.Errorf("state %q is not on or off (also accepted: true, false, enabled, disabled)", s)
	case nil:
		return false, fmt.Errorf("state is empty; want on or off")
	}
	return false, fmt.Errorf("state %v is a %T; want on or off", state, state)
}

// onOff spells a state as the event log and the UI show it.
func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
