package chart

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/testenv"
)

func TestKeptnCartsCharts(t *testing.T) {
	dir := testenv.KeptnExamples(t)
	for _, p := range []string{
		"examples/0.11.0/onboarding-carts/carts.tgz",
		"examples/0.11.0/onboarding-carts/carts-db.tgz",
		"examples/0.11.0/onboarding-carts/carts",
		"examples/0.6.1/onboarding-carts/carts",
		"examples/0.6.1/onboarding-carts/carts-db",
	} {
		t.Run(p, func(t *testing.T) {
			ch, err := LoadPath(filepath.Join(dir, p))
			if err != nil {
				t.Fatal(err)
			}
			b, err := Archive(ch)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Load(b)
			if err != nil {
				t.Fatalf("stored form does not load: %v", err)
			}
			if again.Name() != ch.Name() || len(again.Templates) != len(ch.Templates) || len(again.Templates) == 0 {
				t.Fatalf("round trip: %s with %d templates, want %s with %d", again.Name(), len(again.Templates), ch.Name(), len(ch.Templates))
			}
		})
	}
}

func tgz(t testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLoadSkippedEntriesCount: entries Load does not keep (a type it
// skips) are decompressed all the same, so they count against the limit.
func TestLoadSkippedEntriesCount(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	ok := "apiVersion: v2\nname: a\nversion: 0.1.0\n"
	for _, e := range []struct {
		name string
		typ  byte
		body []byte
	}{
		{"a/Chart.yaml", tar.TypeReg, []byte(ok)},
		{"a/skipped", 'Z', make([]byte, 3*MaxUnpackedSize)},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: e.typ, Format: tar.FormatGNU}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > MaxArchiveSize {
		t.Fatalf("the test archive is %d bytes, above the archive limit", buf.Len())
	}
	if _, err := Load(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "unpacks to more than") {
		t.Errorf("Load = %v, want the unpacked size refused", err)
	}
}

func TestLoadErrors(t *testing.T) {
	ok := "apiVersion: v2\nname: a\nversion: 0.1.0\n"
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"not gzip", []byte("hello"), "not gzip"},
		{"two folders", tgz(t, map[string]string{"a/Chart.yaml": ok, "b/values.yaml": ""}), "two top-level folders"},
		{"top-level file", tgz(t, map[string]string{"Chart.yaml": ok}), "not inside the chart's folder"},
		{"no Chart.yaml", tgz(t, map[string]string{"a/values.yaml": "x: 1\n"}), "Chart.yaml"},
		{"too large", bytes.Repeat([]byte{0}, MaxArchiveSize+1), "more than"},
		{"bomb", tgz(t, map[string]string{"a/Chart.yaml": ok, "a/big": strings.Repeat("x", MaxUnpackedSize+1)}), "unpacks to more than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := Load(tgz(t, map[string]string{"./a/Chart.yaml": ok})); err != nil {
		t.Fatalf("./ prefix: %v", err)
	}
}

func TestIsChartURI(t *testing.T) {
	for uri, want := range map[string]bool{"helm/carts.tgz": true, "/helm/carts.tgz": true, "helm/x/carts.tgz": false, "carts.tgz": false, "helm/values.yaml": false} {
		if got := IsChartURI(uri); got != want {
			t.Errorf("IsChartURI(%q) = %v", uri, got)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(tgz(f, map[string]string{"a/Chart.yaml": "apiVersion: v2\nname: a\nversion: 0.1.0\n", "a/templates/x.yaml": "kind: ConfigMap\n"}))
	if dir := os.Getenv("TEND_KEPTN_EXAMPLES"); dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, "examples/0.11.0/onboarding-carts/carts.tgz")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ch, err := Load(data)
		if err != nil {
			return
		}
		if ch.Metadata == nil || ch.Name() == "" {
			t.Fatal("loaded chart without metadata")
		}
	})
}
