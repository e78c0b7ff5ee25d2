// Package factoryreset resets the device to factory defaults while keeping
// what the administrator chose to keep, in a way that survives power loss.
//
// The factory-reset command builds a Plan (the keep-set: which Items
// survive), asks for confirmation, records the plan as a Request on the
// persist partition and reboots. Early in the next boot, before any service
// starts, init calls Resume, which carries the request out in phases whose
// progress is recorded on persist: stage the kept items on persist, recreate
// the data filesystem, restore the kept items and apply the reset's
// outcomes, then record the result and clear the request. Every phase can be
// run again from its start, so power lost at any moment only means the next
// boot picks the reset up where it was and finishes it.
package factoryreset
