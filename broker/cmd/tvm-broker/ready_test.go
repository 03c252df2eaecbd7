package main

import (
	"encoding/json"
	"testing"
)

// readyStatus checks the "config" detail of a /readyz body — the
// generation in force is generation, and the last load succeeded — and
// returns the body without it, to compare with {"status":"ready"}.
func readyStatus(t *testing.T, body []byte, generation int) []byte {
	t.Helper()
	var got struct {
		Status string `json:"status"`
		Config struct {
			Generation int `json:"generation"`
			LastReload struct {
				OK bool `json:"ok"`
			} `json:"last_reload"`
		} `json:"config"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("/readyz body %s: %v", body, err)
	}
	if got.Config.Generation != generation || !got.Config.LastReload.OK {
		t.Errorf("/readyz config detail = %+v, want generation %d, last reload ok", got.Config, generation)
	}
	out, err := json.Marshal(map[string]string{"status": got.Status})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
