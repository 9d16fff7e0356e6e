package main

import (
	"errors"
	"fmt"

	"ailb/breaker"
	"ailb/config"
	"ailb/ops"
)

// breakerOptions turns the configuration into breaker settings per assistant.
func breakerOptions(cfg *config.Config) breaker.Options {
	o := breaker.Options{Default: settings(&cfg.Defaults.Breaker), PerAssistant: map[string]breaker.Settings{}}
	for name, a := range cfg.Assistants {
		o.PerAssistant[name] = settings(a.Breaker)
	}
	return o
}

func settings(b *config.Breaker) breaker.Settings {
	return breaker.Settings{
		ConsecutiveFailures: uint32(b.ConsecutiveFailures),
		FailureRatio:        b.FailureRatio,
		MinRequests:         uint32(b.MinCalls),
		Window:              b.Window.D(),
		OpenFor:             b.OpenFor.D(),
		Probes:              uint32(b.Probes),
	}
}

// breakerAdmin adapts the breaker set to the admin API.
type breakerAdmin struct{ set *breaker.Set }

func (b breakerAdmin) Status() any                   { return b.set.Status() }
func (b breakerAdmin) State(assistant string) string { return b.set.State(assistant).String() }

func (b breakerAdmin) Force(assistant, action string) error {
	if action == "close" {
		action = "closed"
	}
	a, err := breaker.ParseAction(action)
	if err != nil {
		return err
	}
	if err := b.set.Force(assistant, a); err != nil {
		if errors.Is(err, breaker.ErrUnknownAssistant) {
			return fmt.Errorf("%w: %s", ops.ErrUnknownAssistant, assistant)
		}
		return err
	}
	return nil
}

// onBreakerChange exports every transition as metrics.
func onBreakerChange(m *ops.Metrics) func(string, breaker.State, breaker.State) {
	return func(assistant string, from, to breaker.State) {
		m.BreakerState.WithLabelValues(assistant).Set(float64(to))
		m.BreakerTransit.WithLabelValues(assistant, from.String(), to.String()).Inc()
	}
}
