//go:build !wasip1

package guest

// hostAPI is the dispatcher's host. Outside a wasm guest, where only tests
// run the dispatcher, it is the interface, so that a fake can serve it.
type hostAPI = hostImports
