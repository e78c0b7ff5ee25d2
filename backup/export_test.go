package backup

import "vxway/journal"

// journalBegin starts the restore's journal, as apply does, for the
// power-cut test.
func journalBegin(root string, paths []string) (*journal.Journal, error) {
	return journal.Begin(root, JournalPath, paths)
}
