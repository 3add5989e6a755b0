"""The ledger: double-entry books for loans, following the servicing replay exactly."""
