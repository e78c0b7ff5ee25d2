// Package supervise runs the device's services: it starts each program,
// sends its output to a size-rotated log on data, restarts it with
// exponential backoff when it stops, reports when every service is ready,
// and reaps the orphaned processes that PID 1 inherits.
package supervise
