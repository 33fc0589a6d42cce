package store

import (
	"testing"
	"unicode/utf8"
)

func TestImageOf(t *testing.T) {
	for _, tc := range []struct {
		name, body, image, result string
	}{
		{"tend's executors", `{"data":{"result":"pass","deployment":{"image":"carts:0.11.1","deploymentstrategy":"blue_green_service"},"configurationChange":{"values":{"image":"carts:other"}}}}`, "carts:0.11.1", "pass"},
		{"Keptn 0.8+", `{"data":{"result":"warning","configurationChange":{"values":{"image":"carts:0.11.1"}}}}`, "carts:0.11.1", "warning"},
		{"Keptn 0.6 image and tag", `{"data":{"result":"pass","image":"docker.io/keptnexamples/carts","tag":"0.11.1"}}`, "docker.io/keptnexamples/carts:0.11.1", "pass"},
		{"Keptn 0.6 image without tag", `{"data":{"result":"pass","image":"carts:1"}}`, "carts:1", "pass"},
		{"no image", `{"data":{"result":"pass","deployment":{"deploymentNames":["carts"]}}}`, "", "pass"},
		{"empty images fall through", `{"data":{"result":"pass","deployment":{"image":""},"configurationChange":{"values":{"image":""}},"image":"c:2"}}`, "c:2", "pass"},
		{"odd types are ignored", `{"data":{"result":7,"deployment":{"image":["x"]},"image":"c:3","tag":4}}`, "c:3", ""},
		{"data not an object", `{"data":"pass"}`, "", ""},
		{"no data", `{"type":"x"}`, "", ""},
		{"not JSON", `not json`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, res := ImageOf([]byte(tc.body))
			if img != tc.image || res != tc.result {
				t.Errorf("ImageOf = %q, %q; want %q, %q", img, res, tc.image, tc.result)
			}
		})
	}
}

func FuzzImageOf(f *testing.F) {
	for _, s := range []string{
		`{"data":{"result":"pass","deployment":{"image":"carts:0.11.1"}}}`,
		`{"data":{"result":"pass","image":"carts","tag":"1"}}`,
		`{"data":{"configurationChange":{"values":{"image":"x"}}}}`,
		`{"data":null}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		img, res := ImageOf(body)
		// Whatever comes in, what goes out is text taken from it.
		if !utf8.ValidString(img) || !utf8.ValidString(res) {
			t.Errorf("ImageOf(%q) = %q, %q: not UTF-8", body, img, res)
		}
		if img == "" && res == "" {
			return
		}
		if again, r2 := ImageOf(body); again != img || r2 != res {
			t.Errorf("ImageOf is not deterministic on %q", body)
		}
	})
}
