package lake

// UseFlowEncoder switches flows between the column-at-a-time encoder (on,
// the default) and parquet-go's GenericWriter, so benchmarks and tests can
// compare the two in one run; it returns a function that restores the
// previous setting.
func UseFlowEncoder(on bool) (restore func()) {
	old := flowEncoder
	flowEncoder = on
	return func() { flowEncoder = old }
}
