package remediation

import (
	"encoding/json"
	"testing"
)

func TestJobs(t *testing.T) {
	tests := []struct {
		name    string
		job     Job
		payload Payload
		unique  string
	}{
		{"start", StartJob("r1"), Payload{RemediationID: "r1"}, "remediation/r1/start"},
		{"problem closed", ClosedJob("r1", "p2"), Payload{RemediationID: "r1", ProblemClosed: "p2"}, "remediation/r1/problem-closed/p2"},
		{"pause", PauseJob("r1", "maintenance", "n1"), Payload{RemediationID: "r1", Step: StepPause, Reason: "maintenance"}, "remediation/r1/pause/n1"},
		{"resume", ResumeJob("r1", "n1"), Payload{RemediationID: "r1", Step: StepResume}, "remediation/r1/resume/n1"},
		{"answer", AnswerJob("r1", 2, "ext", "e1"), Payload{RemediationID: "r1", Step: StepAnswer, Index: 2}, "remediation/r1/answer/ext/e1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Payload
			if err := json.Unmarshal(tt.job.Payload, &got); err != nil {
				t.Fatal(err)
			}
			if tt.job.Kind != JobKind || got != tt.payload || tt.job.UniqueKey != tt.unique {
				t.Errorf("job %+v payload %+v", tt.job, got)
			}
		})
	}
}
