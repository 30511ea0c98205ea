//go:build wasip1

// Command guest is the Go guest that the preempt tests instrument. Build it
// with GOOS=wasip1 GOARCH=wasm and -buildmode=c-shared, so that the module
// exports _initialize instead of running main.
package main

func main() {}

// spins counts the iterations of spin. It is a package variable so that the
// compiler must keep the loop that writes it.
var spins uint64

//go:wasmexport add
func add(a, b int32) int32 { return a + b }

// sum returns 0 + 1 + ... + (n-1) with wrapping arithmetic, one loop
// iteration per term.
//
//go:wasmexport sum
func sum(n int32) int32 {
	var total int32
	for i := int32(0); i < n; i++ {
		total += i
	}
	return total
}

// spin never returns.
//
//go:wasmexport spin
func spin() {
	for {
		spins++
	}
}
