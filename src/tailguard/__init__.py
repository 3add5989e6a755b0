"""tailguard: servicing and recovery for balloon auto loans."""
