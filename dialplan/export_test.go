package dialplan

// TokenFor exposes a live call's token to tests, as the assistant would
// read it from X-AILB-Token.
func (f *Flow) TokenFor(callID string) string {
	lc, _ := f.calls.get(callID)
	return lc.token
}

// LiveIDs lists the calls in progress.
func (f *Flow) LiveIDs() []string {
	f.calls.mu.RLock()
	defer f.calls.mu.RUnlock()
	var ids []string
	for id := range f.calls.m {
		ids = append(ids, id)
	}
	return ids
}
