package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
)

// BenchmarkAlertmanagerIntake measures problem intake throughput with
// deduplication over HTTP on SQLite (and PostgreSQL when
// TEND_TEST_POSTGRES_URL is set): Alertmanager-style messages of 10
// alerts of one service each, from 64 concurrent senders, over 20
// services, so that the run sees every kind of
// notification: new problems (one remediation per service, the others
// join it), resolved ones, and duplicates, as Alertmanager's repeat
// notifications and HA peers send them. It reports alerts/s, the number
// docs/PERFORMANCE.md records:
//
//	go test ./internal/api -run '^$' -bench BenchmarkAlertmanagerIntake -benchtime 4000x
func BenchmarkAlertmanagerIntake(b *testing.B) {
	// "repeats": a pool of 2,000 alert instances, so after the first
	// messages nearly every alert is a repeat; "new": every alert of the
	// first 4,000 messages is a new problem (each joins its service's
	// remediation), the worst case.
	b.Run("repeats", func(b *testing.B) { benchIntake(b, sqliteBackend, 2000, 512) })
	b.Run("new", func(b *testing.B) { benchIntake(b, sqliteBackend, 40000, 4000) })
	b.Run("postgres/repeats", func(b *testing.B) { benchIntake(b, postgresBackend, 2000, 512) })
	b.Run("postgres/new", func(b *testing.B) { benchIntake(b, postgresBackend, 40000, 4000) })
}

func benchIntake(b *testing.B, backend backend, pool, distinctMessages int) {
	const (
		services   = 20
		perMessage = 10
	)
	ts := startServer(b, backend)
	var names []string
	for i := range services {
		names = append(names, fmt.Sprintf("svc%02d", i))
	}
	ts.createProject(b, "sockshop", names...)
	for _, svc := range names[:2] {
		ts.wantStatus(b, http.StatusCreated, http.MethodPut, "/api/v1/project/sockshop/stage/production/service/"+svc+"/resource", ts.Admin,
			putBody(map[string]string{"remediation.yaml": remediationYAML}))
	}
	// Prebuilt messages, so the benchmark measures the server.
	messages := make([][]byte, distinctMessages)
	for m := range messages {
		var as []alert
		for i := range perMessage {
			// Alertmanager groups alerts (group_by alertname and
			// service, say): one message holds one service's alerts.
			n := (m*perMessage + i) % pool
			a := firing(fmt.Sprintf("%016x", n), "sockshop", "production", names[(n/perMessage)%services])
			if m > len(messages)/2 && n%5 == 0 {
				a.status = "resolved"
			}
			as = append(as, a)
		}
		messages[m] = amMessage(as...)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}}
	b.Cleanup(hc.CloseIdleConnections)
	var next, accepted, duplicates atomic.Int64
	b.SetParallelism(32) // 64 senders on 2 cores
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/integrations/alertmanager", bytes.NewReader(messages[int(i)%len(messages)]))
			req.Header.Set("Authorization", "Bearer "+ts.Admin)
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d: %s", resp.StatusCode, body)
				return
			}
			a := decode[apitypes.AlertmanagerAnswer](b, body)
			accepted.Add(int64(a.Accepted))
			duplicates.Add(int64(a.Duplicates))
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	alerts := float64(b.N * perMessage)
	b.ReportMetric(alerts/elapsed.Seconds(), "alerts/s")
	b.ReportMetric(float64(accepted.Load())/alerts*100, "%accepted")
	b.ReportMetric(float64(duplicates.Load())/alerts*100, "%duplicates")
}

// BenchmarkAlertmanagerRepeats measures what most of tend's intake is:
// Alertmanager re-sending firing alerts of open problems. As `tend bench
// intake --load repeats`, an intake token delivers 100 distinct messages of
// 1 or 10 alerts over and over; every message was delivered once before
// the timer starts, so each one measured is a repeat answered without a
// write. ns/op is one delivery over HTTP, the client's work included:
//
//	go test ./internal/api -run '^$' -bench 'BenchmarkAlertmanagerRepeats' -benchtime 20000x -cpuprofile rep.pprof
func BenchmarkAlertmanagerRepeats(b *testing.B) {
	for _, perMessage := range []int{1, 10} {
		b.Run(fmt.Sprint(perMessage), func(b *testing.B) { benchRepeats(b, sqliteBackend, perMessage) })
	}
}

func benchRepeats(b *testing.B, backend backend, perMessage int) {
	const groups = 100
	ts := startServer(b, backend)
	ts.createProject(b, "sockshop", "carts")
	token := ts.mint(b, "alertmanager", "intake", "sockshop")
	messages := make([][]byte, groups)
	for m := range messages {
		var as []alert
		for i := range perMessage {
			a := firing(fmt.Sprintf("%d-%d", m, i), "sockshop", "dev", "carts") // no remediation: the intake is measured
			a.startsAt = "2024-05-01T10:00:00Z"
			as = append(as, a)
		}
		messages[m] = amMessage(as...)
		ts.wantAlerts(b, token, messages[m])
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	b.Cleanup(hc.CloseIdleConnections)
	var next, duplicates atomic.Int64
	b.SetParallelism(16) // 32 senders on 2 cores, as tend bench intake -c 32
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/integrations/alertmanager", bytes.NewReader(messages[int(i)%len(messages)]))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d: %s", resp.StatusCode, body)
				return
			}
			duplicates.Add(int64(bytes.Count(body, []byte(`"status":"duplicate"`))))
		}
	})
	b.StopTimer()
	if want := int64(b.N * perMessage); duplicates.Load() != want {
		b.Fatalf("%d duplicates of %d alerts: every alert sent in the loop repeats an open problem", duplicates.Load(), want)
	}
}
