"""Stand-in for dbt's ``adapter`` object, for sqlfluff's jinja templater only.

``adapter.dispatch('name', 'tierwise')(args)`` renders as a call ``name(args)``: a
plausible SQL function call, so files using dispatched macros parse and lint.
"""


def dispatch(macro_name, macro_namespace=None):
    def render(*args):
        return f"{macro_name}({', '.join(str(arg) for arg in args)})"

    return render
