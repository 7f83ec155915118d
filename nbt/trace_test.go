package nbt_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbt"
)

// TestClientTraceComposesEveryHook sets each hook of ClientTrace, found by
// reflection so that a hook added later is tested too, in two traces, one
// inside the other in a context: calling the composed hook calls the
// inner trace's, then the outer's; a hook set in one trace only is that
// trace's own.
func TestClientTraceComposesEveryHook(t *testing.T) {
	typ := reflect.TypeFor[nbt.ClientTrace]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() != reflect.Func {
			t.Fatalf("ClientTrace.%s is not a hook", f.Name)
		}
		t.Run(f.Name, func(t *testing.T) {
			var calls []string
			hook := func(who string) reflect.Value {
				return reflect.MakeFunc(f.Type, func([]reflect.Value) []reflect.Value {
					calls = append(calls, who)
					return nil
				})
			}
			call := func(ctx context.Context) {
				t.Helper()
				h := reflect.ValueOf(nbt.ContextClientTrace(ctx)).Elem().Field(i)
				if h.IsNil() {
					t.Fatalf("the composed trace has no %s", f.Name)
				}
				args := make([]reflect.Value, f.Type.NumIn())
				for j := range args {
					args[j] = reflect.Zero(f.Type.In(j))
				}
				h.Call(args)
			}
			trace := func(who string) *nbt.ClientTrace {
				var tr nbt.ClientTrace
				reflect.ValueOf(&tr).Elem().Field(i).Set(hook(who))
				return &tr
			}

			outer := nbt.WithClientTrace(context.Background(), trace("outer"))
			call(nbt.WithClientTrace(outer, trace("inner")))
			if diff := cmp.Diff([]string{"inner", "outer"}, calls); diff != "" {
				t.Errorf("both set (-want +got):\n%s", diff)
			}
			calls = nil
			call(nbt.WithClientTrace(outer, &nbt.ClientTrace{}))
			if diff := cmp.Diff([]string{"outer"}, calls); diff != "" {
				t.Errorf("outer only (-want +got):\n%s", diff)
			}
			calls = nil
			call(nbt.WithClientTrace(nbt.WithClientTrace(context.Background(), &nbt.ClientTrace{}), trace("inner")))
			if diff := cmp.Diff([]string{"inner"}, calls); diff != "" {
				t.Errorf("inner only (-want +got):\n%s", diff)
			}
		})
	}
}
