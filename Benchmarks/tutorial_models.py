"""The tutorial's networks in PyTorch, for the benchmark reference scripts (pytorch_mlp.py,
pytorch_ddp.py, pytorch_cnn_lstm.py): the same layer stacks as the Swift models."""

import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """The MNIST MLP, 784-128-64-10 with ReLU."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(-1, 784)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class SimpleCNN(nn.Module):
    """The CIFAR-10 CNN: conv(3→32)-pool-conv(32→64)-pool-fc(4096→512)-fc(512→10)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 8 * 8, 512)
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 64 * 8 * 8)
        return self.fc2(F.relu(self.fc1(x)))
