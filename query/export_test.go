package query

// SetOverlapWordBits makes overlapMasks fill words of n bits, so a test
// with few assistants and months uses more than one word; the returned
// function restores 64.
func SetOverlapWordBits(n int) (restore func()) {
	overlapWordBits = n
	return func() { overlapWordBits = 64 }
}
