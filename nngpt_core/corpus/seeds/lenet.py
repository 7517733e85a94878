"""LeNet: convolution and pooling stages followed by a fully connected classifier."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 8
STAGES = 2
KERNEL = 5
HIDDEN = 120
GRID = 4
ACTIVATION = nn.Tanh
DOWNSAMPLE = nn.MaxPool2d
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        size = min(in_shape[2], in_shape[3])
        channels = in_channels
        layers = []
        for stage in range(STAGES):
            width = WIDTH * 2 ** stage
            layers.append(nn.Conv2d(channels, width, KERNEL, 1, KERNEL // 2))
            layers.append(ACTIVATION())
            if size >= 4:
                layers.append(DOWNSAMPLE(2))
                size = size // 2
            channels = width
        self.body = nn.Sequential(*layers)
        self.pool = POOL(GRID)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * GRID * GRID, HIDDEN),
            ACTIVATION(),
            nn.Dropout(prm['dropout']),
            nn.Linear(HIDDEN, num_classes),
        )

    def forward(self, x):
        x = self.body(x)
        return self.head(self.pool(x))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss().to(self.device)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
