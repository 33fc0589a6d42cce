package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/store"
)

// delivered builds a delivery finished event with data.
func delivered(n int, stage, service, typ, kctx, data string) store.EventRecord {
	e := ev(n, "sockshop", stage, service, typ, kctx)
	e.JSON = []byte(fmt.Sprintf(`{"id":%q,"type":%q,"data":%s}`, e.ID, typ, data))
	return e
}

func testDeployedImages(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	_, err := s.CreateProject(c, store.NewProject{Name: "sockshop", Shipyard: []byte("x")})
	must(t, err)
	const (
		dep = store.TypeDeploymentFinished
		rel = store.TypeReleaseFinished
		rb  = store.TypeRollbackFinished
	)
	_, err = s.AppendEvents(c,
		// dev/carts: 0.1 delivered, then 0.2 deployed with a warning.
		delivered(1, "dev", "carts", dep, "c1", `{"result":"pass","deployment":{"image":"carts:0.1"}}`),
		delivered(2, "dev", "carts", dep, "c2", `{"result":"warning","configurationChange":{"values":{"image":"carts:0.2"}}}`),
		// dev/orders: the legacy image and tag; a failed deployment
		// after it does not count, nor does an evaluation.
		delivered(3, "dev", "orders", dep, "c3", `{"result":"pass","image":"orders","tag":"1.0"}`),
		delivered(4, "dev", "orders", dep, "c4", `{"result":"fail","deployment":{"image":"orders:2.0"}}`),
		delivered(5, "dev", "orders", "sh.keptn.event.evaluation.finished", "c4", `{"result":"pass","deployment":{"image":"orders:3.0"}}`),
		// production/carts: 0.1 released; 0.2 deployed as canary, then
		// rolled back by an executor that names no image: 0.1 runs.
		delivered(6, "production", "carts", rel, "c1", `{"result":"pass","deployment":{"image":"carts:0.1"}}`),
		delivered(7, "production", "carts", dep, "c2", `{"result":"pass","deployment":{"image":"carts:0.2"}}`),
		delivered(8, "production", "carts", rb, "c2", `{"result":"pass"}`),
		// production/orders: a rollback that names the image wins.
		delivered(9, "production", "orders", dep, "c5", `{"result":"pass","deployment":{"image":"orders:2.0"}}`),
		delivered(10, "production", "orders", rb, "c5", `{"result":"pass","deployment":{"image":"orders:1.0"}}`),
		// staging/carts: nothing usable (odd JSON types, an error).
		delivered(11, "staging", "carts", dep, "c6", `{"result":"pass","deployment":{"image":7}}`),
		delivered(12, "staging", "carts", dep, "c6", `"not an object"`),
	)
	must(t, err)
	// Another project's images are not read.
	other := ev(13, "other", "dev", "carts", dep, "c7")
	other.JSON = []byte(`{"data":{"result":"pass","deployment":{"image":"secret:1"}}}`)
	_, err = s.AppendEvents(c, other)
	must(t, err)

	got, err := s.DeployedImages(c, store.DeployedFilter{Project: "sockshop"})
	must(t, err)
	want := []string{
		"dev/carts carts:0.2 warning id-2",
		"dev/orders orders:1.0 pass id-3",
		"production/carts carts:0.1 pass id-6",
		"production/orders orders:1.0 pass id-10",
	}
	checkDeployed(t, "project", got, want)
	if len(got) > 0 && (got[0].EventType != store.TypeDeploymentFinished || got[0].KeptnContext != "c2" ||
		!got[0].Time.Equal(time.Date(2025, 3, 1, 12, 0, 2, 123456000, time.UTC)) || got[0].Project != "sockshop") {
		t.Errorf("first image %+v", got[0])
	}

	got, err = s.DeployedImages(c, store.DeployedFilter{Project: "sockshop", Stage: "production", Service: "carts"})
	must(t, err)
	checkDeployed(t, "stage and service", got, want[2:3])
	got, err = s.DeployedImages(c, store.DeployedFilter{Project: "sockshop", KeptnContext: "c1"})
	must(t, err)
	checkDeployed(t, "context c1", got, []string{"dev/carts carts:0.1 pass id-1", "production/carts carts:0.1 pass id-6"})

	// A new generation of the project starts without images.
	must(t, s.DeleteProject(c, "sockshop"))
	_, err = s.CreateProject(c, store.NewProject{Name: "sockshop", Shipyard: []byte("x")})
	must(t, err)
	got, err = s.DeployedImages(c, store.DeployedFilter{Project: "sockshop"})
	must(t, err)
	checkDeployed(t, "new generation", got, nil)

	_, err = s.DeployedImages(c, store.DeployedFilter{})
	mustErr(t, err, store.ErrInvalid)
}

func checkDeployed(t *testing.T, what string, got []store.DeployedImage, want []string) {
	t.Helper()
	var lines []string
	for _, d := range got {
		lines = append(lines, fmt.Sprintf("%s/%s %s %s %s", d.Stage, d.Service, d.Image, d.Result, d.EventID))
	}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("%s: deployed images\n %q\nwant\n %q", what, lines, want)
	}
}
