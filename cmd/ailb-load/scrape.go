package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// watched are the server's counters a load run reports the change of.
var watched = []string{
	`ailb_ai_failures_total{kind="with_failover"}`,
	`ailb_ai_failures_total{kind="with_drop"}`,
	`ailb_store_fallback_total`,
}

// scrape reads the named samples from a Prometheus text page.
func scrape(ctx context.Context, url string, names []string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range names {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					out[name] = f
				}
			}
		}
	}
	return out, sc.Err()
}

// callsInProgress reads ailb_calls_in_progress.
func callsInProgress(ctx context.Context, url string) (float64, error) {
	const name = "ailb_calls_in_progress"
	m, err := scrape(ctx, url, []string{name})
	if err != nil {
		return 0, err
	}
	n, ok := m[name]
	if !ok {
		return 0, fmt.Errorf("%s: no %s", url, name)
	}
	return n, nil
}

// counterDeltas is after minus before for every watched counter.
func counterDeltas(before, after map[string]float64) map[string]float64 {
	d := make(map[string]float64, len(watched))
	for _, name := range watched {
		d[name] = after[name] - before[name]
	}
	return d
}
