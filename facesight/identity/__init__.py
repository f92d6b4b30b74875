"""Who a descriptor is: calibration, matching, clustering. No SQL, no I/O."""
