// Package chart reads and writes the Helm charts of services: a chart is
// stored in a project's Git as helm/<service>.tgz, and every reader (the
// resource API's validation, onboarding, the deployment executor) goes
// through Load, which accepts the archives Keptn users have (entries
// starting with "./", as Keptn 0.8+'s carts.tgz) and applies size limits
// before Helm's own loader sees a byte. Archive writes the one normalized
// form tend stores, which Helm's loader reads as it is.
package chart

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/chart/v2/util"
)

// Limits of one chart archive.
const (
	// MaxArchiveSize is the largest compressed archive accepted.
	MaxArchiveSize = 5 << 20
	// MaxUnpackedSize is the most its files may hold once unpacked.
	MaxUnpackedSize = 20 << 20
	// MaxFiles is the most entries an archive may have.
	MaxFiles = 2000
)

// Chart is Helm's chart.
type Chart = chartv2.Chart

// ResourceURI is where a service's chart is stored in a stage.
func ResourceURI(service string) string { return "helm/" + service + ".tgz" }

// IsChartURI reports whether a resource URI names a chart archive
// (helm/<name>.tgz).
func IsChartURI(uri string) bool {
	uri = strings.TrimPrefix(uri, "/")
	return strings.HasPrefix(uri, "helm/") && strings.HasSuffix(uri, ".tgz") && !strings.Contains(strings.TrimPrefix(uri, "helm/"), "/")
}

// Load reads a chart archive (gzip-compressed tar holding one top-level
// folder). Entries may start with "./". The error names what is wrong.
func Load(data []byte) (*Chart, error) {
	if len(data) > MaxArchiveSize {
		return nil, fmt.Errorf("chart archive is %d bytes, more than the %d allowed", len(data), MaxArchiveSize)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("chart archive is not gzip-compressed: %w", err)
	}
	// The tar reader skips the data of entries it is not asked to read
	// (links, unknown types) by decompressing it, so the limit holds for
	// the whole stream, not only for the files kept.
	stream := &capped{r: zr, left: maxStream}
	tr := tar.NewReader(stream)
	var files []*archive.BufferedFile
	var top string
	left := int64(MaxUnpackedSize)
	for n := 0; ; n++ {
		hd, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if stream.over {
				return nil, fmt.Errorf("chart archive unpacks to more than %d bytes", MaxUnpackedSize)
			}
			return nil, fmt.Errorf("chart archive: %w", err)
		}
		if n >= MaxFiles {
			return nil, fmt.Errorf("chart archive has more than %d entries", MaxFiles)
		}
		if hd.Typeflag != tar.TypeReg {
			continue // folders, links and the like carry nothing Helm reads
		}
		name := strings.TrimPrefix(path.Clean("/"+strings.ReplaceAll(hd.Name, `\`, "/")), "/")
		first, rest, ok := strings.Cut(name, "/")
		if !ok || rest == "" {
			return nil, fmt.Errorf("chart archive entry %q is not inside the chart's folder", hd.Name)
		}
		if top == "" {
			top = first
		} else if first != top {
			return nil, fmt.Errorf("chart archive holds two top-level folders, %q and %q", top, first)
		}
		if hd.Size > left {
			return nil, fmt.Errorf("chart archive unpacks to more than %d bytes", MaxUnpackedSize)
		}
		b, err := io.ReadAll(io.LimitReader(tr, left+1))
		if err != nil && stream.over {
			return nil, fmt.Errorf("chart archive unpacks to more than %d bytes", MaxUnpackedSize)
		}
		if err != nil {
			return nil, fmt.Errorf("chart archive entry %q: %w", hd.Name, err)
		}
		if int64(len(b)) > left {
			return nil, fmt.Errorf("chart archive unpacks to more than %d bytes", MaxUnpackedSize)
		}
		left -= int64(len(b))
		files = append(files, &archive.BufferedFile{Name: rest, ModTime: hd.ModTime, Data: b})
	}
	if len(files) == 0 {
		return nil, errors.New("chart archive is empty")
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("chart %q: %w", top, err)
	}
	if err := ch.Validate(); err != nil {
		return nil, fmt.Errorf("chart %q: %w", top, err)
	}
	return ch, nil
}

// maxStream bounds the decompressed tar stream: the files' bytes, and a
// header and padding per entry, with room for extended headers.
const maxStream = MaxUnpackedSize + (MaxFiles+1)*2*512 + 1<<20

// errStreamTooLarge ends a decompressed stream longer than maxStream.
var errStreamTooLarge = errors.New("chart archive stream too large")

// capped reads at most left bytes from r, then fails.
type capped struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.over = true
		return 0, errStreamTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// LoadPath reads a chart from a folder or an archive file.
func LoadPath(p string) (*Chart, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		if fi.Size() > MaxArchiveSize {
			return nil, fmt.Errorf("%s: chart archive is %d bytes, more than the %d allowed", p, fi.Size(), MaxArchiveSize)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		ch, err := Load(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return ch, nil
	}
	ch, err := loader.LoadDir(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if err := ch.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return ch, nil
}

// Archive writes ch as the archive tend stores: <name>/ entries, as
// `helm package` writes them.
func Archive(ch *Chart) ([]byte, error) {
	dir, err := os.MkdirTemp("", "tend-chart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p, err := util.Save(ch, dir)
	if err != nil {
		return nil, fmt.Errorf("package chart %q: %w", ch.Name(), err)
	}
	return os.ReadFile(filepath.Clean(p))
}

// Normalize reads an archive and writes it again in the stored form, so
// that Helm's own loader reads what tend stores.
func Normalize(data []byte) ([]byte, *Chart, error) {
	ch, err := Load(data)
	if err != nil {
		return nil, nil, err
	}
	b, err := Archive(ch)
	return b, ch, err
}
