package evaluator

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/store"
)

// sliAnswer finds an integration's get-sli.finished for the evaluation's
// get-sli task: Keptn's shape, data.get-sli.indicatorValues with
// {metric, value, success, message}, and the common status and message.
func (h *Handler) sliAnswer(ctx context.Context, st evaluation.State) (evaluation.SLIAnswer, bool, error) {
	pg, err := h.st.ListEvents(ctx, store.EventFilter{TriggeredID: st.GetSLIID, Type: event.TypeGetSLIFinished, PageSize: 10})
	if err != nil {
		return evaluation.SLIAnswer{}, false, fmt.Errorf("look for the get-sli answer: %w", err)
	}
	for _, rec := range pg.Events {
		if rec.Source == evaluation.Source {
			continue
		}
		var ev struct {
			Data struct {
				Status  string `json:"status"`
				Result  string `json:"result"`
				Message string `json:"message"`
				GetSLI  struct {
					IndicatorValues []slo.SLIResult `json:"indicatorValues"`
				} `json:"get-sli"`
			} `json:"data"`
		}
		if err := json.Unmarshal(rec.JSON, &ev); err != nil {
			// A malformed answer is an answer: its SLIs failed.
			return evaluation.SLIAnswer{Status: event.StatusErrored, Message: fmt.Sprintf("the get-sli.finished of %s is unreadable: %v", rec.Source, err)}, true, nil
		}
		d := ev.Data
		return evaluation.SLIAnswer{Status: d.Status, Result: d.Result, Message: d.Message, Values: d.GetSLI.IndicatorValues}, true, nil
	}
	return evaluation.SLIAnswer{}, false, nil
}
