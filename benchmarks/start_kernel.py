"""Start the named kernel once and run code in it, as the wizard's pre-flight does."""

import sys

from jupyter_client.manager import start_new_kernel

km, kc = start_new_kernel(kernel_name=sys.argv[1], startup_timeout=120)
try:
    reply = kc.execute_interactive("import sys", timeout=120, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
