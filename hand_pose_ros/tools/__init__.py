"""Tools around the library: the ``hand-pose-ros`` CLI and its subcommands, benchmarks, the demo
and playback, the test harness, the launch spec, dataset converters and reports.

Nothing in the core (detection, fusion, mesh, calibration, the pipeline, ``ros``) imports from here.
"""
