// Package bench measures github.com/inhook/webhook side by side with other
// Go webhook libraries. It is a separate module so that the core module
// depends on none of them.
package bench
