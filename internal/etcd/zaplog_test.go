package etcd

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestZapToSlog(t *testing.T) {
	schemaErr := errors.New("cannot detect storage schema version: missing term information")
	tests := []struct {
		name      string
		stopping  bool
		log       func(*zap.Logger)
		wantLevel slog.Level
		wantN     int
		wantAttrs map[string]string
	}{
		{
			name:      "error passes with fields",
			log:       func(l *zap.Logger) { l.Error("boom", zap.String("k", "v"), zap.Int("n", 3)) },
			wantLevel: slog.LevelError,
			wantN:     1,
			wantAttrs: map[string]string{"k": "v", "n": "3"},
		},
		{
			name:      "warn below minimum is dropped",
			log:       func(l *zap.Logger) { l.Warn("meh") },
			wantN:     0,
			wantAttrs: map[string]string{},
		},
		{
			name:      "errors while stopping are demoted",
			stopping:  true,
			log:       func(l *zap.Logger) { l.Error("mux: server closed") },
			wantLevel: slog.LevelDebug,
			wantN:     1,
			wantAttrs: map[string]string{},
		},
		{
			name:      "known benign bootstrap error is demoted",
			log:       func(l *zap.Logger) { l.Error("failed to update storage version", zap.Error(schemaErr)) },
			wantLevel: slog.LevelDebug,
			wantN:     1,
			wantAttrs: map[string]string{"error": schemaErr.Error()},
		},
		{
			name:      "With fields are kept",
			log:       func(l *zap.Logger) { l.With(zap.String("member", "a")).Error("x") },
			wantLevel: slog.LevelError,
			wantN:     1,
			wantAttrs: map[string]string{"member": "a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &captureHandler{}
			var stopping atomic.Bool
			stopping.Store(tt.stopping)
			tt.log(newZapLogger(slog.New(h), zapcore.ErrorLevel, &stopping))
			if len(h.records) != tt.wantN {
				t.Fatalf("got %d records, want %d", len(h.records), tt.wantN)
			}
			if tt.wantN == 0 {
				return
			}
			r := h.records[0]
			if r.Level != tt.wantLevel {
				t.Errorf("level = %v, want %v", r.Level, tt.wantLevel)
			}
			got := map[string]string{}
			r.Attrs(func(a slog.Attr) bool {
				got[a.Key] = a.Value.String()
				return true
			})
			for k, want := range tt.wantAttrs {
				if got[k] != want {
					t.Errorf("attr %s = %q, want %q (all: %v)", k, got[k], want, got)
				}
			}
		})
	}
}

type captureHandler struct{ records []slog.Record }

func (h *captureHandler) Enabled(_ context.Context, _ slog.Level) bool { return true }
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *captureHandler) WithGroup(string) slog.Handler                { return h }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.records = append(h.records, r)
	return nil
}
