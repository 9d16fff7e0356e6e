package routing

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// SetStatus records a member's status (active or not) in Redis, where
// every instance reads it and it survives restarts. An error wrapping
// ErrRedisUnavailable means the change was not saved.
func (r *Redis) SetStatus(ctx context.Context, pool, member string, active bool) error {
	if strings.Contains(pool, "/") {
		return fmt.Errorf("routing: status of %s/%s: a pool name with '/' cannot be stored", pool, member)
	}
	v := "0"
	if active {
		v = "1"
	}
	octx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	if err := r.c.HSet(octx, r.statusKey(), pool+"/"+member, v).Err(); err != nil {
		r.failed(ctx, err)
		return fmt.Errorf("%w: status of %s/%s not saved: %w", ErrRedisUnavailable, pool, member, err)
	}
	return nil
}

// Statuses returns every status saved with SetStatus, keyed
// "pool/member". Members without one keep their configured status. An
// error wraps ErrRedisUnavailable.
func (r *Redis) Statuses(ctx context.Context) (map[string]bool, error) {
	octx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	h, err := r.c.HGetAll(octx, r.statusKey()).Result()
	if err != nil {
		r.failed(ctx, err)
		return nil, fmt.Errorf("%w: statuses not read: %w", ErrRedisUnavailable, err)
	}
	out := make(map[string]bool, len(h))
	for k, v := range h {
		b, err := strconv.ParseBool(v)
		if err != nil {
			r.o.Log.Warn("ignoring member status that is not a bool", zap.String("member", k), zap.String("value", v))
			continue
		}
		out[k] = b
	}
	return out, nil
}
