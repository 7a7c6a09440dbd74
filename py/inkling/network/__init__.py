"""The network and its maths: the MLP (`mlp`), the limits and the text of its layers (`layers`), the
optimizers (`optim`), the engine that computes their products (`engine/`, the WebAssembly kernel and
numpy), weights as ``.npz`` files (`weights_io`) and the first layer as pictures (`weights_picture`).

It imports nothing of Inkling but `inkling.errors`: it knows no data block, message or page.
"""
