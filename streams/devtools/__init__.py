"""Developer tools, apart from the runtime: benchmarks, synthetic models and data, the test and
bench harness and local broker launchers. A deployed worker, sink or scorer never imports this
package (``tests/unit/test_layout.py`` checks it); it may import anything else of the project.
"""
