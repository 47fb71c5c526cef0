"""Views subscribe to runner events; none of them starts a process."""
