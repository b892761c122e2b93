"""Batch issuance (issue 5): a file of applications imported all-or-nothing (importer.py,
rows.py), approved as a whole by another officer (batches.py), and issued in resumable
chunks with signing spread over worker processes (issuing.py, pool.py); cli.py is
`ssc-issuer batch import|approve|issue|status|list`."""
